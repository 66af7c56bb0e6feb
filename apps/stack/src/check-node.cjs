/*
 * Checks the Node.js version before anything else runs, and says what to install. Hopper's code is
 * TypeScript run by Node's type stripping, and its dependencies need Node >= 22.19 (undici 8), so an
 * older Node fails on the first `.ts` file with ERR_UNKNOWN_FILE_EXTENSION and no hint.
 *
 * Written for any Node: CommonJS, `var`, no optional chaining, no template literals.
 * `npm start` runs it first (prestart); the launcher (launch.cjs) requires it.
 */
'use strict';

var path = require('path');

/** The minimum, read from package.json "engines" so the check and npm's warning say the same. */
function requiredVersion() {
  var engines = require(path.join(__dirname, '..', '..', '..', 'package.json')).engines;
  var match = /(\d+)\.(\d+)/.exec((engines && engines.node) || '');
  return match ? [Number(match[1]), Number(match[2])] : [22, 19];
}

/** Exits with a one-line explanation when this Node is older than package.json allows. */
function checkNodeVersion() {
  var required = requiredVersion();
  var current = process.versions.node.split('.').map(Number);
  var tooOld = current[0] < required[0] || (current[0] === required[0] && current[1] < required[1]);
  if (!tooOld) return;
  process.stderr.write(
    'hopper: Node.js ' +
      process.versions.node +
      ' is too old: Hopper needs Node.js ' +
      required.join('.') +
      ' or newer. Install Node.js 24 LTS (https://nodejs.org/en/download, or `nvm install 24`), ' +
      'then run `npm install` and `npm start` again.\n',
  );
  process.exit(1);
}

module.exports = { checkNodeVersion: checkNodeVersion };

if (require.main === module) checkNodeVersion();
