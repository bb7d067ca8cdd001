/** The GUI's entry point: styles (bundled, served from this origin) and the app. */
import 'uplot/dist/uPlot.min.css';
import './style.css';
import { App } from './app.js';

const root = document.getElementById('app');
if (root) new App(root).start();
