/** nlctrl, generic netlink's controller: the dynamic id of a family by its name (CTRL_CMD_GETFAMILY). */
import type {NetlinkConnection} from './connection.js';
import {NetlinkError} from './connection.js';
import {encodeGeneric, GENL_ID_CTRL, parseGeneric, stringAttribute} from './message.js';

const CTRL_CMD_GETFAMILY = 3;
const CTRL_VERSION = 1;
const CTRL_ATTR_FAMILY_ID = 1;
const CTRL_ATTR_FAMILY_NAME = 2;
const ENOENT = 2;

export function familyRequest(name: string): Buffer {
  return encodeGeneric(CTRL_CMD_GETFAMILY, CTRL_VERSION, [stringAttribute(CTRL_ATTR_FAMILY_NAME, name)]);
}

/** The family's id, or undefined when no such family is registered (its module is not loaded). */
export async function resolveFamily(connection: NetlinkConnection, name: string): Promise<number | undefined> {
  let replies;
  try {
    replies = await connection.request(GENL_ID_CTRL, familyRequest(name), {what: `generic netlink family ${name}`});
  } catch (error) {
    if (error instanceof NetlinkError && error.errno === ENOENT) return undefined;
    throw error;
  }
  for (const reply of replies) {
    const generic = parseGeneric(reply.payload);
    const id = generic.ok ? generic.value.attributes.u16(CTRL_ATTR_FAMILY_ID) : undefined;
    if (generic.ok && generic.value.attributes.string(CTRL_ATTR_FAMILY_NAME) === name && id !== undefined) return id;
  }
  throw new NetlinkError(0, `generic netlink family ${name}: the controller's reply names no family id`);
}
