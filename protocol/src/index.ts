export * from './config';
export * from './agent';
export * from './api';
export * from './errors';
export * from './entrypoint';
export * from './grid';
export * from './hyperparameters';
export * from './auth';
