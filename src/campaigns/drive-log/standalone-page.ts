// The verify page saved to disk: browsers refuse module scripts from `file://`, so the page script
// and the verifier core it imports are joined into one classic script, inlined in the page. A hand
// transform rather than a bundler: esbuild is a devDependency, absent from the production image,
// and the two files are plain ES modules (the core imports nothing; the page imports the core once).

const CORE_IMPORT = /^import \{([^}]+)\} from '\.\/drive-verify-core\.mjs';$/m;
const EXPORT = /^export (?=(?:async )?function |const |let |class )/gm;

/** One classic script running the page with the core in scope; throws if either file changes shape. */
export function classicVerifyScript(core: string, pageScript: string): string {
  const imported = CORE_IMPORT.exec(pageScript)?.[1];
  const coreBody = core.replace(EXPORT, '');
  const pageBody = pageScript.replace(CORE_IMPORT, '');
  if (!imported || /^\s*(import|export)\b/m.test(coreBody) || /^\s*(import|export)\b/m.test(pageBody))
    throw new Error(
      'drive-verify scripts: only `export function|const` and one import of the core are joined',
    );
  // The core in a scope of its own (its names cannot meet the page's), strict as modules are.
  const script = `(() => {\n'use strict';\nconst {${imported}} = (() => {\n${coreBody}\nreturn {${imported}};\n})();\n${pageBody}\n})();\n`;
  // Inlined in HTML: text that would end the script element (or open a comment) must not occur.
  if (/<\/script|<!--/i.test(script)) throw new Error('drive-verify scripts: cannot be inlined in HTML');
  return script;
}
