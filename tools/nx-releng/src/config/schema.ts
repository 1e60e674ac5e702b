import { z } from 'zod';
import { SAFE_NAME } from './constants';

/**
 * The three layers of the release model, one zod schema each (the bash `common`, `common_<major>`, and the
 * per-compose script arguments). Objects are strict so a misspelt key is reported, not ignored.
 */

const safeName = z
  .string()
  .regex(SAFE_NAME, 'must be a plain name (letters, digits, . _ + -; no "/" and not starting with "." or "-")')
  .refine((s) => !s.includes('..'), 'must not contain ".."');

const absolutePath = z
  .string()
  .regex(/^\//, 'must be an absolute path')
  .refine((p) => !p.split('/').includes('..'), 'must not contain ".." segments');

const relativeStub = z
  .string()
  .regex(/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/, 'must be a relative path like mirror/pub/rocky')
  .refine((p) => !p.split('/').includes('..'), 'must not contain ".." segments');

export const ARCHES = ['x86_64', 'aarch64', 'ppc64le', 's390x', 'riscv64', 'i686'] as const;
export { CHANNELS, DEFAULT_CHANNEL, SAFE_NAME, SIG_PREFIX, type Channel } from './constants';

export const commonSchema = z.strictObject({
  $schema: z.string().optional(),
  roots: z.strictObject({
    compose: absolutePath,
    staging: absolutePath,
    production: absolutePath,
    koji: absolutePath,
  }),
  stubs: z.strictObject({
    category: relativeStub,
    sig: relativeStub,
    vault: relativeStub,
    sigVault: relativeStub,
  }),
  owner: z.strictObject({
    uid: z.number().int().nonnegative(),
    gid: z.number().int().nonnegative(),
  }),
  distro: z.strictObject({
    name: z.string().min(1),
    cpeVendor: safeName,
  }),
  rsync: z.strictObject({
    parallel: z.number().int().min(1).max(32),
  }),
  createrepo: z.strictObject({
    workers: z.number().int().min(1).max(64),
    /** createrepo_c runs at once in a sync-staging (each with `workers` threads). */
    parallel: z.number().int().min(1).max(16),
  }),
  lockTimeoutSeconds: z.number().int().min(0),
  /** The mirror file lists (sync-file-list-parallel.sh): one entry per list root below the production root. */
  fileLists: z
    .array(
      z.strictObject({
        /** Relative to the production root; "." is the production root itself. */
        root: z.union([z.literal('.'), relativeStub]),
        /** fullfiletimelist-<module>, e.g. fullfiletimelist-rocky */
        timelist: z.string().regex(/^fullfiletimelist-[A-Za-z0-9._-]+$/, 'must be fullfiletimelist-<module>'),
        /** Byte-identical copies for other clients, e.g. fullfiletimelist, fullfiletimelist-rocky-linux */
        copies: z.array(z.string().regex(/^fullfiletimelist(-[A-Za-z0-9._-]+)?$/, 'must be fullfiletimelist[-<name>]')),
      }),
    )
    .min(1),
  /**
   * The housekeeping target (cron/stable-cleanup-8): a project's composes older than keepDays are removed from
   * its compose root, except those whose dir name matches a keep glob (* ? [...]) and any a link points at.
   */
  housekeeping: z
    .strictObject({
      keepDays: z.number().int().min(1).default(7),
      keep: z
        .array(z.string().regex(/^[A-Za-z0-9._+*?[\]!-]+$/, 'must be a glob on compose dir names (letters, digits, . _ + - and * ? [...])'))
        .default([]),
    })
    .prefault({}),
});

const revision = z.string().regex(/^\d+\.\d+$/, 'must look like <major>.<minor>, e.g. 8.10');
const suffix = z.string().regex(/^(-[A-Za-z0-9]+)?$/, 'must be empty or a dash and a word, e.g. -RC2');

const channelSchema = z.strictObject({
  /** Appended to the revision for the staging directory: 8.10 + -RC2. */
  suffix,
  /** Appended to the major for the compose root: /mnt/compose/8-BETA. */
  composeSuffix: suffix.default(''),
  /** A channel may stage a different revision (beta and lookahead of 9 run ahead of stable). */
  revision: revision.optional(),
});

/** Default errata.maxBytes: far above Apollo's largest updateinfo.xml (EL8 AppStream, tens of MiB). */
export const ERRATA_MAX_BYTES = 256 * 1024 * 1024;

const errataSchema = z.strictObject({
  /** Apollo's API (<baseUrl>/<productSlug>/<major>/<repo>/updateinfo.xml?arch=<arch>) or a local directory. */
  source: z.discriminatedUnion('type', [
    z.strictObject({
      type: z.literal('http'),
      baseUrl: z.string().regex(/^https?:\/\/\S+$/, 'must be an http(s) URL'),
      productSlug: safeName,
    }),
    z.strictObject({ type: z.literal('dir'), path: absolutePath }),
  ]),
  /** Repositories that never get errata (apollo_tree's -i list). */
  ignoreRepos: z.array(safeName),
  /** The largest advisory document accepted per repo × arch, in bytes: a runaway or hostile answer is refused. */
  maxBytes: z.number().int().positive().default(ERRATA_MAX_BYTES),
});

/** How repomd.xml is signed: gpg directly, or the site's own script given the repomd path (Rocky's sign-repo-8.sh). */
const signingSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('gpg'),
    keyId: z.string().min(1),
    homedir: absolutePath,
    passphraseFile: absolutePath.optional(),
    publicKey: absolutePath,
  }),
  z.strictObject({
    type: z.literal('command'),
    command: z.array(z.string().min(1)).min(1).refine((c) => (c[0] ?? '').startsWith('/'), 'the program must be an absolute path'),
    publicKey: absolutePath,
  }),
]);

/** The placeholders a torrent comment may use: 8.10 gives {revision} 8.10, {major} 8, {minor} 10. */
export const TORRENT_COMMENT_PLACEHOLDERS = ['revision', 'major', 'minor'] as const;

/** gen-torrents.sh: one torrent per release image set, written into an rtorrent watch directory. */
const torrentsSchema = z.strictObject({
  /** Announce URLs: the first is `announce`, each one a tier of `announce-list` (mktorrent -a per URL). */
  trackers: z
    .array(z.string().regex(/^(udp|https?|wss?):\/\/[^\s,]+$/, 'must be a udp://, http(s):// or ws(s):// announce URL without spaces or commas'))
    .min(1)
    .refine((l) => new Set(l).size === l.length, 'lists a tracker twice'),
  /** The torrent comment, the release notes URL, e.g. https://docs.rockylinux.org/release_notes/{major}_{minor}/ */
  comment: z
    .string()
    .regex(/^https?:\/\/\S+$/, 'must be an http(s) URL')
    .refine(
      (c) => [...c.matchAll(/\{([^}]*)\}/g)].every((m) => (TORRENT_COMMENT_PLACEHOLDERS as readonly string[]).includes(m[1] ?? '')),
      `may only use the placeholders ${TORRENT_COMMENT_PLACEHOLDERS.map((p) => `{${p}}`).join(', ')}`,
    ),
  /** Where each image's directory of links to the staging files is made (rtorrent's download dir: what it seeds). */
  downloadDir: absolutePath,
  /** Where each .torrent is written (rtorrent's watch/start dir, so seeding starts on its own). */
  watchDir: absolutePath,
});

export const releaseSchema = z.strictObject({
  $schema: z.string().optional(),
  revision,
  /** The revision before this one, kept for the vault. */
  previousRevision: revision.optional(),
  arches: z.array(z.enum(ARCHES)).min(1),
  channels: z.strictObject({
    stable: channelSchema,
    beta: channelSchema.optional(),
    lookahead: channelSchema.optional(),
  }),
  /** Repositories with comps groups (bash MODS_REPOS). */
  compsRepos: z.array(safeName),
  /** Repositories without comps (bash NONMODS_REPOS). Every compose variant must be one of these two lists. */
  plainRepos: z.array(safeName),
  /** Repositories that get modules.yaml (bash MODS). */
  modularRepos: z.array(safeName),
  /** Symlinks made in a minor release: key is the directory, value the link name (NFV -> nfv). */
  linkRepos: z.record(safeName, safeName),
  /** Variants whose <Variant>/<arch>/iso/*.iso a minor release publishes in isos/<arch>/ (BaseOS, Minimal). */
  isoTypes: z.array(safeName),
  /**
   * Minor release: the install tree's .treeinfo also lists these variants (the bash treeinfoModder), e.g.
   * { "BaseOS": ["AppStream"] }: BaseOS/<arch>/{os,kickstart}/.treeinfo gain [variant-AppStream].
   */
  treeinfoVariants: z.record(safeName, z.array(safeName)).default({}),
  /** Where the hand-maintained modules.yaml files live: <dir>/<arch>/<Repo>-modules.yaml. */
  moduleMetadataDir: absolutePath,
  errata: errataSchema,
  signing: signingSchema,
  /** Which repositories each repository's dependencies may come from (empanadas' repoclosure map). */
  repoclosure: z.record(safeName, z.array(safeName)),
  /** Torrents of the release images (gen-torrents.sh); without this block no compose has a torrents target. */
  torrents: torrentsSchema.optional(),
});

/** pungi's phase names (pungi/phases/__init__.py PHASES_NAMES), plus productimg, still accepted with a warning. */
export const PUNGI_PHASES = [
  'init',
  'pkgset',
  'buildinstall',
  'gather',
  'extra_files',
  'createrepo',
  'ostree',
  'ostree_installer',
  'createiso',
  'extra_isos',
  'live_images',
  'live_media',
  'image_build',
  'osbuild',
  'osbs',
  'image_container',
  'image_checksum',
  'repoclosure',
  'test',
  'weaver',
  'productimg',
] as const;
export type PungiPhase = (typeof PUNGI_PHASES)[number];

/** productmd's label names: a label is <Name>-<x.y>, e.g. RC-8.10. */
export const LABEL_NAMES = [
  'EA',
  'DevelPhaseExit',
  'InternalAlpha',
  'Alpha',
  'InternalSnapshot',
  'Beta',
  'Snapshot',
  'RC',
  'Update',
  'SecurityFix',
] as const;

/** The two compose kinds of the SOP: produce-8.sh (full, ISOs) and updates-8*.sh (no ISOs, old composes reused). */
export const COMPOSE_KINDS = ['update', 'produce'] as const;
export type ComposeKind = (typeof COMPOSE_KINDS)[number];

/** What updates-8-devel.sh skips (its productimg is a no-op since pungi 4.1.40 and left out). */
export const DEFAULT_UPDATE_SKIP_PHASES: PungiPhase[] = ['buildinstall', 'createiso', 'extra_isos'];

const skipPhaseList = z
  .array(z.enum(PUNGI_PHASES))
  .refine((l) => new Set(l).size === l.length, 'lists a phase twice')
  .refine(
    (l) => !(l.includes('pkgset') && !l.includes('gather')) && !(l.includes('gather') && !l.includes('createrepo')),
    'skips a phase the next one needs (pungi refuses pkgset without gather, and gather without createrepo)',
  );
/** A label name (the label is <name>-<revision>), or false for --no-label. */
const labelChoice = z.union([z.enum(LABEL_NAMES), z.literal(false)]);

/** A git branch name as `git check-ref-format --branch` takes it, without the forms a shell or git could misread. */
const branchName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._\/-]*$/, 'must be a git branch name (letters, digits, . _ / -), e.g. r8')
  .refine((b) => !b.includes('..') && !b.endsWith('.lock') && !b.endsWith('/') && !b.includes('//'), 'is not a valid git branch name');

/**
 * A git checkout a compose reads (the cron re-clones these before each compose): where it is, what it is a
 * clone of, and the branch it must be on.
 */
const checkoutSchema = z.strictObject({
  dir: absolutePath,
  /** The clone URL (https://, ssh://, git@host:path, file://) or an absolute path of a repository. */
  remote: z
    .string()
    .regex(/^(https?:\/\/|ssh:\/\/|git:\/\/|file:\/\/|[A-Za-z0-9._-]+@[A-Za-z0-9._-]+:|\/)\S+$/, 'must be a git URL (https://, ssh://, git://, file://, user@host:path) or an absolute path'),
  branch: branchName,
});

/** What the compose does with a FINISHED_INCOMPLETE compose, which pungi-koji exits 0 for. */
export const INCOMPLETE_POLICIES = ['accept', 'refuse'] as const;

/** How the pungi backend calls pungi-koji for this compose (the settings of pungi-rocky's scripts). */
const pungiSchema = z.strictObject({
  /** pungi-koji --config: the pungi-rocky checkout's config, e.g. /etc/pungi-prod/r8.conf. */
  config: absolutePath.refine((p) => p.endsWith('.conf'), 'must be a pungi config file (*.conf)'),
  /** The pungi-rocky checkout the config is in (every file it imports is there too). */
  checkout: checkoutSchema.optional(),
  /** The module metadata checkout (rocky-module-metadata) this compose's modules come from. */
  moduleMetadata: checkoutSchema.optional(),
  /**
   * Bring the checkouts to their branch before each compose (the refresh target). false for hosts that manage them
   * otherwise; they are then only checked (a git checkout on its branch), as with --offline.
   */
  refresh: z.boolean().default(true),
  /** The compose kind when --kind is not given: update (updates-8*.sh) or produce (produce-8*.sh, the beta and lookahead crons). */
  kind: z.enum(COMPOSE_KINDS).default('update'),
  /**
   * The koji tag pungi gathers from (the config's pkgset_koji_tag), e.g. dist-rocky8-compose. Its latest builds
   * (`koji list-tagged --latest --quiet <tag>`) fingerprint the package set, so an unchanged compose is skipped;
   * without it the compose is never skipped.
   */
  tag: safeName.optional(),
  /** Every other koji tag the config composes from (module tags, ...), fingerprinted like tag. */
  extraTags: z.array(safeName).refine((l) => new Set(l).size === l.length, 'lists a tag twice').default([]),
  /**
   * accept: a FINISHED_INCOMPLETE compose is used like a FINISHED one, as pungi-koji exits 0 for it and the cron
   * then syncs (with a warning); refuse: only FINISHED (--allowIncomplete accepts it for one run).
   */
  finishedIncomplete: z.enum(INCOMPLETE_POLICIES).default('accept'),
  /** --production (the scripts' choice), --nightly or --test. */
  composeType: z.enum(['production', 'nightly', 'test']).default('production'),
  /** Label name per compose kind (--label <name>-<revision>); false gives --no-label (devel and SIG updates). */
  label: z
    .strictObject({ produce: labelChoice.default('RC'), update: labelChoice.default(false) })
    .prefault({}),
  /** Update composes pass --old-composes=<compose root> so pungi reuses the last compose's repodata. */
  oldComposes: z.boolean().default(true),
  /** Further --old-composes dirs of update composes, after the compose root. */
  extraOldComposes: z.array(absolutePath).default([]),
  /** --skip-phase per compose kind; produce skips nothing, update skips the ISO phases. */
  skipPhases: z
    .strictObject({
      update: skipPhaseList.default(DEFAULT_UPDATE_SKIP_PHASES),
      produce: skipPhaseList.default([]),
    })
    .prefault({}),
  /** false: --no-latest-link (the compose is made but nothing downstream sees it). */
  latestLink: z.boolean().default(true),
  /** --latest-link-status FINISHED: a FINISHED_INCOMPLETE compose does not move the latest link. */
  latestLinkStatus: z.literal('FINISHED').optional(),
});

export const composeSchema = z.strictObject({
  $schema: z.string().optional(),
  /** base: a distribution compose (Rocky, Extras, Rocky-devel); sig: a SIG compose. */
  kind: z.enum(['base', 'sig']),
  /** Top-level directories of the compose's compose/ dir that this project syncs. */
  variants: z.array(safeName).min(1),
  /** How `compose` makes a compose: pungi-koji on a compose host, or the local backend from RPM dirs. */
  backend: z.enum(['pungi', 'local']),
  /** How pungi-koji is run for the stable channel; required when backend is pungi. */
  pungi: pungiSchema.optional(),
  /**
   * The other channels' pungi settings (the beta and lookahead crons use their own checkouts, configs and produce
   * composes). A pungi compose of a channel without its block is refused, never made with the stable config.
   */
  channels: z
    .strictObject({ beta: z.strictObject({ pungi: pungiSchema }).optional(), lookahead: z.strictObject({ pungi: pungiSchema }).optional() })
    .optional(),
  /** Copy compose/metadata to staging (only the base distribution compose should). */
  syncMetadata: z.boolean().default(false),
  description: z.string().optional(),
});

export type CommonConfig = z.infer<typeof commonSchema>;
export type ReleaseConfig = z.infer<typeof releaseSchema>;
export type ComposeConfig = z.infer<typeof composeSchema>;
export type PungiConfig = z.infer<typeof pungiSchema>;
export type CheckoutConfig = z.infer<typeof checkoutSchema>;
export type ChannelConfig = z.infer<typeof channelSchema>;
export type SigningConfig = z.infer<typeof signingSchema>;
export type ErrataConfig = z.infer<typeof errataSchema>;
export type TorrentsConfig = z.infer<typeof torrentsSchema>;
