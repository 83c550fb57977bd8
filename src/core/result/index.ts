export * from './state.js';
export * from '../errors.js';
export * from './range.js';
export * from './perfdata.js';
export * from './check-result.js';
export * from './render.js';
