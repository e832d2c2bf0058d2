// Biome does formatting and the general lint rules; ESLint runs only the few checks that need type information
// (Biome has no type-aware equivalent): promise misuse and switch exhaustiveness.
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  globalIgnores(['**/node_modules/', '**/dist/', 'docs/api/', 'coverage/', '**/.wakame/', 'bench/results/']),
  {
    files: ['packages/*/src/**/*.ts', 'packages/*/test/**/*.ts', 'bench/**/*.ts', 'examples/**/*.ts'],
    ignores: ['**/*.generated.ts'],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: {
        // Uses the nearest tsconfig.json of each file (the root one covers packages, bench and examples).
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    plugins: { '@typescript-eslint': tseslint.plugin },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': [
        'error',
        // A `default:` branch is a deliberate catch-all; only switches without one must cover every member.
        { considerDefaultExhaustiveForUnions: true, requireDefaultForNonUnion: false },
      ],
    },
  },
);
