// @ts-check
// ESLint's recommended rules over the browser modules (internal/web/static)
// and this file. `npm ci && npx eslint .` runs it; .ci/run does too.
import js from "@eslint/js";
import globals from "globals";

export default [
  js.configs.recommended,
  {
    files: ["internal/web/static/**/*.js"],
    languageOptions: { ecmaVersion: 2022, sourceType: "module", globals: globals.browser },
  },
  {
    files: ["eslint.config.js"],
    languageOptions: { sourceType: "module", globals: globals.node },
  },
];
