// The userspace data plane end to end (runs anywhere).
import { proxySuite } from './scenarios.js';

proxySuite('userspace');
