#!/usr/bin/env node
import { runMain } from '../runtime/run-main.js';
import { runOpBin } from './op-bin.js';

runMain('ku-diag', (argv) => runOpBin('ku-diag', argv));
