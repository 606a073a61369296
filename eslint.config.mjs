// @ts-check
import eslint from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'data/**', 'coverage/**', 'eslint.config.mjs'] },
  eslint.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'warn',
    },
  },
  {
    // libs/persistence is the only door to the database (README "Layout"): nothing else imports MikroORM or knex,
    // nor reaches into the library's files. Tests and benchmarks may use @nso/persistence/testing.
    files: ['apps/**/*.ts', 'libs/**/*.ts'],
    ignores: ['libs/persistence/**', '**/*.spec.ts', '**/*.e2e-spec.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@mikro-orm/*'],
              message: 'Reach the database through a repository of @nso/persistence.',
            },
            {
              group: ['knex', 'knex/*'],
              message: 'Reach the database through a repository of @nso/persistence.',
            },
            {
              // @nso/persistence/rows: the row encoding alone, for a thread that must not load the ORM.
              group: ['@nso/persistence/*', '!@nso/persistence/rows'],
              message: 'Import @nso/persistence itself (tests: @nso/persistence/testing).',
            },
          ],
        },
      ],
    },
  },
);
