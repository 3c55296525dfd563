import type { Config } from 'jest';

/**
 * NestJS 12 ships ES modules only, so the tests run in Jest's native ESM mode
 * (`node --experimental-vm-modules`, see package.json) with ts-jest emitting ESM.
 */
const transform: Config['transform'] = {
  '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', useESM: true }],
  // A few ESM-only packages are require()d by CommonJS dependencies; Jest supports require(esm)
  // only from Node 24.9, so on Node 20/22 they are compiled to CommonJS for the tests.
  '^.+/node_modules/(content-disposition|cookie)/.+\\.js$': [
    'ts-jest',
    { tsconfig: { allowJs: true, module: 'commonjs', moduleResolution: 'node10' }, useESM: false },
  ],
};

const common = {
  testEnvironment: 'node',
  moduleFileExtensions: ['ts', 'js', 'json'],
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform,
  transformIgnorePatterns: ['/node_modules/(?!(content-disposition|cookie)/)'],
} satisfies Config;

/**
 * Unit tests sit beside the code (src/**\/*.spec.ts); integration and e2e tests in test/. All that
 * touch data run against real PostgreSQL: the global setup starts an embedded server unless
 * TEST_DATABASE_URL (or DATABASE_URL) names one, and every test file works in a database of its own.
 */
const config: Config = {
  globalSetup: '<rootDir>/test/utils/global-setup.ts',
  globalTeardown: '<rootDir>/test/utils/global-teardown.ts',
  maxWorkers: 2,
  testTimeout: 30_000,
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: [
        '<rootDir>/src/**/*.spec.ts',
        '<rootDir>/chaos/**/*.spec.ts',
        '<rootDir>/bench/**/*.spec.ts',
      ],
    },
    {
      ...common,
      displayName: 'e2e',
      testMatch: ['<rootDir>/test/**/*.e2e-spec.ts', '<rootDir>/test/**/*.int-spec.ts'],
      slowTestThreshold: 20,
    },
  ],
};

export default config;
