// @nso/nmap: everything the gateway and worker need to turn user input into a safe nmap run and a normalised
// result. Pure functions, except NmapProcessRunner (spawns nmap) and NmapModule (the Nest wiring).
export * from './errors';
export * from './argument-policy';
export * from './targets';
export * from './scope';
export * from './target-set';
export * from './types';
export * from './parser';
export * from './runner';
export * from './nmap.module';
export {
  canonicalCidr,
  canonicalIpAddress,
  compareIpValues,
  parseIpAddress,
  parseIPv4,
  formatIPv6,
  type IpFamily,
  type IpValue,
} from './ip-address';
export * from './scan-arguments';
export * from './progress';
export * from './xml-stream';
