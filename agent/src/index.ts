export * from './agent';
export * from './devices';
