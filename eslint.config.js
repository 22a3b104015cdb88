// @ts-check
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'data/**', 'coverage/**', 'node_modules/**'] },
  ...tseslint.configs.recommended,
  {
    // Type-aware rules for promises: a token signer, an authenticator or a check that returns a
    // promise must be awaited (or explicitly voided), never interpolated or passed where a value goes.
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['eslint.config.js', '.dependency-cruiser.cjs'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true, allowNullish: true },
      ],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Express lives in src/http only; commander in src/cli only (architecture rule, see README).
      'no-restricted-imports': ['error', { paths: ['express', 'commander'] }],
    },
  },
  { files: ['src/http/**', 'test/**', 'bench/**'], rules: { 'no-restricted-imports': 'off' } },
  // The bcrypt worker is CommonJS on purpose (src/authn/bcrypt-worker.cjs says why).
  { files: ['**/*.cjs'], rules: { '@typescript-eslint/no-require-imports': 'off' } },
  {
    files: ['src/cli/**'],
    rules: { 'no-restricted-imports': ['error', { paths: ['express'] }] },
  },
);
