// @nso/delta: the coverage-aware diff of two runs and its CSV rendering. Pure functions, no Nest.
export * from './scan-options';
export * from './diff';
export * from './changes';
export * from './csv';
export * from './flapping';
export * from './expected-ports';
export * from './verification';
export * from './run-exposure';
