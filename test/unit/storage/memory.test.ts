import { MemoryStore } from '../../../src/storage/memory.js';
import { storeContract } from './store-contract.js';

storeContract('MemoryStore', async (opts) => new MemoryStore(opts));
