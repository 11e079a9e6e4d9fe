// The userdata nft keeps in NFTA_TABLE/CHAIN/RULE/SET/SET_ELEM_USERDATA: the kernel stores the bytes and
// gives them back untouched; nft (libnftnl) writes a list of TLVs, each a u8 type, a u8 length and the
// value. Values nft reads as numbers are host-endian u32. Writing the same TLVs makes `nft list` show
// our comments and print set elements the way it prints its own.
import { DecodeError, EncodeError } from '../errors.js';

/** TLV types in a rule's userdata. */
export const NFTNL_UDATA_RULE = { COMMENT: 0, EBTABLES_POLICY: 1 } as const;
/** TLV types in a set's userdata. */
export const NFTNL_UDATA_SET = {
  KEYBYTEORDER: 0,
  DATABYTEORDER: 1,
  MERGE_ELEMENTS: 2,
  KEY_TYPEOF: 3,
  DATA_TYPEOF: 4,
  EXPR: 5,
  DATA_INTERVAL: 6,
  COMMENT: 7,
} as const;
/** TLV types in a table's, chain's or set element's userdata: the comment is type 0 in all of them. */
export const NFTNL_UDATA_COMMENT = 0;

/** nft's enum byteorder, the value of NFTNL_UDATA_SET_KEYBYTEORDER. */
export const NFT_BYTEORDER = { INVALID: 0, HOST_ENDIAN: 1, BIG_ENDIAN: 2 } as const;

export interface NftUserdataTlv {
  type: number;
  value: Buffer;
}

/** Splits userdata into its TLVs; throws DecodeError when the bytes are not nft's format. */
export function decodeNftUserdata(buf: Uint8Array): NftUserdataTlv[] {
  const out: NftUserdataTlv[] = [];
  for (let p = 0; p < buf.length; ) {
    if (buf.length - p < 2) throw new DecodeError(p, 'userdata: a TLV needs 2 header bytes');
    const type = buf[p]!;
    const len = buf[p + 1]!;
    if (p + 2 + len > buf.length) throw new DecodeError(p, `userdata: TLV of ${len} bytes overruns the ${buf.length}-byte buffer`);
    out.push({ type, value: Buffer.from(buf.subarray(p + 2, p + 2 + len)) });
    p += 2 + len;
  }
  return out;
}

export function encodeNftUserdata(tlvs: readonly NftUserdataTlv[]): Buffer {
  const parts: Buffer[] = [];
  for (const { type, value } of tlvs) {
    if (!Number.isInteger(type) || type < 0 || type > 0xff) throw new EncodeError(`userdata: TLV type ${type} is not a u8`);
    if (value.length > 0xff) throw new EncodeError(`userdata: TLV value of ${value.length} bytes is longer than 255`);
    parts.push(Buffer.from([type, value.length]), value);
  }
  return Buffer.concat(parts);
}

/** Userdata holding only a comment (a NUL-terminated string, as nft writes it). */
export function nftCommentUserdata(comment: string, type: number = NFTNL_UDATA_COMMENT): Buffer {
  return encodeNftUserdata([{ type, value: Buffer.concat([Buffer.from(comment, 'utf8'), Buffer.alloc(1)]) }]);
}

/** The comment in userdata, or undefined (no comment, or bytes that are not nft's TLVs). */
export function nftUserdataComment(buf: Uint8Array | undefined, type: number = NFTNL_UDATA_COMMENT): string | undefined {
  if (!buf) return undefined;
  let tlvs: NftUserdataTlv[];
  try {
    tlvs = decodeNftUserdata(buf);
  } catch {
    return undefined;
  }
  const tlv = tlvs.find((t) => t.type === type);
  if (!tlv) return undefined;
  const nul = tlv.value.indexOf(0);
  return tlv.value.toString('utf8', 0, nul < 0 ? tlv.value.length : nul);
}

/** A u32 TLV as nft writes it (host byte order): the key byte order of a set, for instance. */
export function nftU32Tlv(type: number, value: number): NftUserdataTlv {
  return { type, value: Buffer.from(new Uint32Array([value]).buffer) };
}
