import { createHash } from 'node:crypto';
import { RelengError } from '../../errors';

/**
 * A strict bencode decoder (BEP 3) and the fields of a .torrent this project reads back: to check what
 * mktorrent wrote before it is renamed into the watch dir, and to report the info hash (a magnet link's btih).
 */

export type BValue = number | Buffer | BValue[] | BDict;
export interface BDict {
  [key: string]: BValue;
}

class Decoder {
  pos = 0;
  /** Byte range of the top-level dict's `info` value: the info hash is the SHA-1 of exactly these bytes. */
  infoSpan?: [number, number];
  constructor(
    private readonly buf: Buffer,
    private readonly what: string,
  ) {}

  fail(msg: string): never {
    throw new RelengError(`${this.what}: not valid bencode at byte ${this.pos}: ${msg}`);
  }

  value(depth: number): BValue {
    const c = this.buf[this.pos];
    if (c === undefined) this.fail('unexpected end of data');
    if (c === 0x69 /* i */) return this.int();
    if (c === 0x6c /* l */) {
      this.pos++;
      const list: BValue[] = [];
      while (this.buf[this.pos] !== 0x65 /* e */) list.push(this.value(depth + 1));
      this.pos++;
      return list;
    }
    if (c === 0x64 /* d */) return this.dict(depth);
    if (c >= 0x30 && c <= 0x39) return this.bytes();
    return this.fail(`unexpected byte 0x${c.toString(16)}`);
  }

  int(): number {
    const end = this.buf.indexOf(0x65, this.pos);
    if (end < 0) this.fail('unterminated integer');
    const text = this.buf.toString('latin1', this.pos + 1, end);
    // No leading zeros, no -0, no empty: one encoding per number, as BEP 3 requires.
    if (!/^(0|-?[1-9][0-9]*)$/.test(text)) this.fail(`bad integer '${text}'`);
    const n = Number(text);
    if (!Number.isSafeInteger(n)) this.fail(`integer ${text} is too large`);
    this.pos = end + 1;
    return n;
  }

  bytes(): Buffer {
    const colon = this.buf.indexOf(0x3a, this.pos);
    if (colon < 0) this.fail('unterminated string length');
    const text = this.buf.toString('latin1', this.pos, colon);
    if (!/^(0|[1-9][0-9]*)$/.test(text)) this.fail(`bad string length '${text}'`);
    const start = colon + 1;
    const end = start + Number(text);
    if (end > this.buf.length) this.fail(`string of ${text} bytes runs past the end`);
    this.pos = end;
    return this.buf.subarray(start, end);
  }

  dict(depth: number): BDict {
    this.pos++;
    const dict: BDict = Object.create(null) as BDict;
    let previous: Buffer | undefined;
    while (this.buf[this.pos] !== 0x65) {
      if (this.buf[this.pos] === undefined) this.fail('unterminated dictionary');
      const key = this.bytes();
      if (previous && Buffer.compare(previous, key) >= 0) this.fail(`dictionary keys not sorted or repeated ('${key.toString()}')`);
      previous = key;
      const start = this.pos;
      dict[key.toString('utf8')] = this.value(depth + 1);
      if (depth === 0 && key.toString('latin1') === 'info') this.infoSpan = [start, this.pos];
    }
    this.pos++;
    return dict;
  }
}

/** Decodes one bencoded value that must fill the whole buffer; `what` names the file in errors. */
export function bdecode(buf: Buffer, what = 'bencode'): { value: BValue; infoSpan?: [number, number] } {
  const d = new Decoder(buf, what);
  const value = d.value(0);
  if (d.pos !== buf.length) d.fail(`${buf.length - d.pos} bytes of trailing data`);
  return { value, infoSpan: d.infoSpan };
}

export interface TorrentFileEntry {
  /** Path inside the torrent's directory, '/'-joined. */
  path: string;
  length: number;
}

/** What a multi-file torrent says, in the form the step and the tests compare. */
export interface TorrentMeta {
  announce: string;
  /** announce-list: one tier per tracker as mktorrent writes it. */
  announceList: string[][];
  comment?: string;
  createdBy?: string;
  name: string;
  pieceLength: number;
  /** The 20-byte SHA-1 of each piece, in order. */
  pieces: Buffer[];
  /** In torrent order: the order of the concatenated data the pieces hash. */
  files: TorrentFileEntry[];
  /** Hex SHA-1 of the bencoded info dict. */
  infoHash: string;
}

function isDict(v: BValue | undefined): v is BDict {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);
}

/** Reads a multi-file .torrent, failing with the file and the field that is missing or of the wrong type. */
export function parseTorrent(buf: Buffer, what: string): TorrentMeta {
  const { value, infoSpan } = bdecode(buf, what);
  const bad = (field: string, expected: string): never => {
    throw new RelengError(`${what}: field ${field} is missing or not ${expected}`);
  };
  const str = (v: BValue | undefined, field: string) => (Buffer.isBuffer(v) ? v.toString('utf8') : bad(field, 'a string'));
  const int = (v: BValue | undefined, field: string) => (typeof v === 'number' ? v : bad(field, 'an integer'));
  const list = (v: BValue | undefined, field: string) => (Array.isArray(v) ? v : bad(field, 'a list'));
  if (!isDict(value)) return bad('(top level)', 'a dictionary');
  const info = value.info;
  if (!isDict(info) || !infoSpan) return bad('info', 'a dictionary');
  const piecesRaw = info.pieces;
  if (!Buffer.isBuffer(piecesRaw) || piecesRaw.length % 20 !== 0) return bad('info.pieces', 'a multiple of 20 bytes');
  const pieces: Buffer[] = [];
  for (let i = 0; i < piecesRaw.length; i += 20) pieces.push(piecesRaw.subarray(i, i + 20));
  const files = list(info.files, 'info.files').map((f, i) => {
    if (!isDict(f)) return bad(`info.files.${i}`, 'a dictionary');
    const path = list(f.path, `info.files.${i}.path`).map((p, j) => str(p, `info.files.${i}.path.${j}`));
    return { path: path.join('/'), length: int(f.length, `info.files.${i}.length`) };
  });
  return {
    announce: str(value.announce, 'announce'),
    announceList: value['announce-list'] === undefined
      ? []
      : list(value['announce-list'], 'announce-list').map((tier, i) =>
          list(tier, `announce-list.${i}`).map((u, j) => str(u, `announce-list.${i}.${j}`)),
        ),
    comment: value.comment === undefined ? undefined : str(value.comment, 'comment'),
    createdBy: value['created by'] === undefined ? undefined : str(value['created by'], 'created by'),
    name: str(info.name, 'info.name'),
    pieceLength: int(info['piece length'], 'info.piece length'),
    pieces,
    files,
    infoHash: createHash('sha1').update(buf.subarray(infoSpan[0], infoSpan[1])).digest('hex'),
  };
}
