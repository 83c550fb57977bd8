import {checkCommand} from '../cli/oclif-command.js';
import {httpPlugin} from '../plugins/http/index.js';

export default checkCommand(httpPlugin);
