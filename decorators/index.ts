import 'reflect-metadata';

export { LivenessCheck, ReadinessCheck, StartupCheck } from './checks.js';
export { GrpcService } from './grpc.js';
export { type MemberDecorator, PostRun, PreRun, Run, Shutdown } from './hooks.js';
export { Controller, Delete, Get, Patch, Post, Put } from './http.js';
export {
  type AbstractClass,
  type ClassProvider,
  type FactoryProvider,
  Inject,
  Injectable,
  type InjectDecorator,
  type Provider,
  type Resource,
  type ResourceCheck,
  type Token,
  type ValueProvider,
} from './inject.js';
export { Command, Main } from './main.js';
export type {
  CheckOptions,
  CommandOptions,
  ControllerOptions,
  HookOptions,
  HttpMethod,
  LazyList,
  MainOptions,
  MiddlewareLike,
  OptionOptions,
  ProbeKind,
  RouteOptions,
  ServerKind,
} from './metadata.js';
export { Option } from './option.js';
export { Body, Ctx, Headers, type Infer, Param, type ParamDecorator, Query } from './params.js';
