#!/usr/bin/env node
import { runMain } from '../runtime/run-main.js';
import { runOpBin } from './op-bin.js';

runMain('ku-pg', (argv) => runOpBin('ku-pg', argv));
