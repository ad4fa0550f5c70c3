// The binary's entry: probes are answered before the app is imported.
import { launch } from 'dionysus/launch';

// require, not import(): this is a CommonJS build, and import() of CommonJS starts the ESM loader (~6 ms).
launch(() => require('./app.js'));
