import {checkCommand} from '../cli/oclif-command.js';
import {ipvsAuditPlugin} from '../plugins/ipvs-audit/index.js';

export default checkCommand(ipvsAuditPlugin);
