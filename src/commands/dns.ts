import {checkCommand} from '../cli/oclif-command.js';
import {dnsPlugin} from '../plugins/dns/index.js';

export default checkCommand(dnsPlugin);
