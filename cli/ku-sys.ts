#!/usr/bin/env node
import { runMain } from '../runtime/run-main.js';
import { runOpBin } from './op-bin.js';

runMain('ku-sys', (argv) => runOpBin('ku-sys', argv));
