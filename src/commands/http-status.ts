import {checkCommand} from '../cli/oclif-command.js';
import {httpStatusPlugin} from '../plugins/http-status/index.js';

export default checkCommand(httpStatusPlugin);
