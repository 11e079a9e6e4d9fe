/** CNI error codes (spec 1.1.0, "Error"). 0-99 are the spec's; sluice defines none of its own yet. */
export const CniCode = {
  IncompatibleVersion: 1,
  UnsupportedField: 2,
  UnknownContainer: 3,
  InvalidEnvironment: 4,
  IoFailure: 5,
  DecodingFailure: 6,
  InvalidNetworkConfig: 7,
  TryAgainLater: 11,
  NotAvailable: 50,
  NotAvailableDegraded: 51,
  /** Anything else that failed (a kernel request, a step of ADD): the spec's generic plugin error. */
  Internal: 999,
} as const;
export type CniCodeValue = (typeof CniCode)[keyof typeof CniCode];

/** An error as the CNI spec prints it: `{cniVersion, code, msg, details}` on stdout, exit status 1. */
export class CniError extends Error {
  override readonly name = 'CniError';
  constructor(
    readonly code: number,
    readonly msg: string,
    readonly details = '',
  ) {
    super(details ? `${msg}: ${details}` : msg);
  }

  toJSON(cniVersion: string): { cniVersion: string; code: number; msg: string; details?: string } {
    const out: { cniVersion: string; code: number; msg: string; details?: string } = { cniVersion, code: this.code, msg: this.msg };
    if (this.details) out.details = this.details;
    return out;
  }
}
