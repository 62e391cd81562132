#!/usr/bin/env node
import { runMain } from '../runtime/run-main.js';
import { runOpBin } from './op-bin.js';

runMain('ku-k8s', (argv) => runOpBin('ku-k8s', argv));
