// @ts-check
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'data/**', 'coverage/**', 'node_modules/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Express lives in src/http only; commander in src/cli only (architecture rule, see README).
      'no-restricted-imports': ['error', { paths: ['express', 'commander'] }],
    },
  },
  { files: ['src/http/**', 'test/**', 'bench/**'], rules: { 'no-restricted-imports': 'off' } },
  {
    files: ['src/cli/**'],
    rules: { 'no-restricted-imports': ['error', { paths: ['express'] }] },
  },
);
