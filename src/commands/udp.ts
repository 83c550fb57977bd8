import {checkCommand} from '../cli/oclif-command.js';
import {udpPlugin} from '../plugins/udp/index.js';

export default checkCommand(udpPlugin);
