/*
 * `npm start`'s entry point: checks the Node version in a file any Node can parse, then starts the
 * launcher (main.ts). An older Node stops here with what to install instead of failing to load `.ts`.
 */
'use strict';

require('./check-node.cjs').checkNodeVersion();

var url = require('url');
var path = require('path');
// Built at run time so an old parser never meets `import()`; only a new enough Node gets here.
var load = new Function('specifier', 'return import(specifier)');
load(url.pathToFileURL(path.join(__dirname, 'main.ts')).href).catch(function (error) {
  process.stderr.write(String((error && error.stack) || error) + '\n');
  process.exit(1);
});
