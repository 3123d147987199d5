import { runMain } from '../../lib/process';
import { runSubgraph } from '../runtime/main';

runMain(() => runSubgraph('erp'));
