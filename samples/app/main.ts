// The binary's entry: probes are answered before the app is imported.
import { launch } from 'dionysus/launch';

launch(() => import('./app.js'));
