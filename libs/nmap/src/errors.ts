// Typed errors of the nmap lib, so the gateway can map each one to a 4xx that names the offending input
// and the worker can tell a bad request from an infrastructure failure.

/**
 * A flag was refused by the argument policy; `option` is the option as the caller spelled it. `options` names
 * every option involved: one, or the two of a combination nmap refuses (`["-F", "-sn"]`).
 */
export class NmapPolicyError extends Error {
  override readonly name = 'NmapPolicyError';
  public readonly options: string[];

  constructor(
    message: string,
    public readonly option: string,
    options?: string[],
  ) {
    super(message);
    this.options = options ?? [option];
  }
}

/** One or more target specs are malformed; `targets` lists every bad one, not just the first. */
export class TargetError extends Error {
  override readonly name = 'TargetError';

  constructor(
    message: string,
    public readonly targets: string[],
  ) {
    super(message);
  }
}

/** One or more targets fall outside the scan scope; `outOfScope` lists every such target text. */
export class ScopeError extends Error {
  override readonly name = 'ScopeError';

  constructor(
    message: string,
    public readonly outOfScope: string[],
  ) {
    super(message);
  }
}

export type NmapXmlErrorReason = 'empty' | 'truncated' | 'malformed';

/** nmap's XML could not be turned into a result. `truncated` usually means nmap was killed mid-run. */
export class NmapXmlError extends Error {
  override readonly name = 'NmapXmlError';

  constructor(
    message: string,
    public readonly reason: NmapXmlErrorReason,
  ) {
    super(message);
  }
}
