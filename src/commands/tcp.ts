import {checkCommand} from '../cli/oclif-command.js';
import {tcpPlugin} from '../plugins/tcp/index.js';

export default checkCommand(tcpPlugin);
