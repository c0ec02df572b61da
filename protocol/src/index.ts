export * from './config';
export * from './agent';
export * from './api';
export * from './errors';
