// Two tiers: `unit` (pure logic, infrastructure replaced) and `integration` (real Redis, databases, nmap, processes).
const moduleNameMapper = { '^@nso/([a-z-]+)(/.*)?$': '<rootDir>/libs/$1/src$2' };
const transform = { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.spec.json' }] };
const base = { rootDir: __dirname, moduleFileExtensions: ['js', 'json', 'ts'], testEnvironment: 'node', moduleNameMapper, transform };

module.exports = {
  projects: [
    { ...base, displayName: 'unit', testMatch: ['<rootDir>/{apps,libs}/**/*.spec.ts'] },
    {
      ...base,
      displayName: 'integration',
      testMatch: ['<rootDir>/{apps,libs,test}/**/*.e2e-spec.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
      testTimeout: 60000,
    },
  ],
};
