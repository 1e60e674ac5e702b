#!/bin/bash
# The steps of Fedora's update-fullfiletimelist wrapper around its create-filelist, as the baseline of
# bench/filelist-e2e.bench.ts. Our own code: create-filelist itself is not in this repository, its path comes
# from $CREATE_FILELIST (bench/RESULTS.md says where to get it).
#
#   CREATE_FILELIST=/path/to/create-filelist bench/fedora-filelist.sh LOCKFILE SUFFIX ROOT:TIMELIST[:COPY,...] ...
#
# As the wrapper does: under an exclusive lock, run `create-filelist -c -s` for every root into a private temp
# dir, drop each new list that equals the published one, then copy each changed list beside its target under a
# temp name (mode 0644) and rename it over the target. The lists are published as <name><SUFFIX>, so that they
# do not clash with the ones `nx run mirror:filelist` publishes in the same tree; the copies (which the wrapper
# does not have, and ours publishes) are compared and written the same way, and skipped at the top like the
# lists themselves (-S). Prints the lists it renamed, one per line (nothing when nothing changed).
set -euo pipefail
create=${CREATE_FILELIST:?set CREATE_FILELIST to the path of create-filelist}
lock=$1
suffix=$2
shift 2

tmpd=$(mktemp -d -t create-filelist.XXXXXXXXXX)
trap 'rm -rf "$tmpd"' EXIT
exec 9>"$lock"
flock -x 9

changed=()
i=0
for spec in "$@"; do
  IFS=: read -r root timelist copies <<<"$spec"
  work="$tmpd/$i"
  mkdir "$work"
  skip=()
  for c in ${copies//,/ }; do skip+=(-S "$c$suffix"); done
  (cd "$work" && "$create" -c -s "${skip[@]}" -d "$root" -f "fullfilelist$suffix" -t "$timelist$suffix")
  # name in the root <- file in $work
  for pair in "fullfilelist:fullfilelist" "$timelist:$timelist" $(for c in ${copies//,/ }; do echo "$c:$timelist"; done); do
    target="$root/${pair%%:*}$suffix"
    source="$work/${pair#*:}$suffix"
    if [[ -f $target ]] && cmp -s "$target" "$source"; then continue; fi
    changed+=("$source:$target")
  done
  i=$((i + 1))
done

for c in "${changed[@]}"; do
  source=${c%%:*}
  target=${c#*:}
  tmpf=$(mktemp -p "$(dirname "$target")" "$(basename "$target").XXXXXXXXXX")
  cp -p "$source" "$tmpf"
  chmod 644 "$tmpf"
  mv "$tmpf" "$target"
  echo "$target"
done
