import {checkCommand} from '../cli/oclif-command.js';
import {arpAuditPlugin} from '../plugins/arp-audit/index.js';

export default checkCommand(arpAuditPlugin);
