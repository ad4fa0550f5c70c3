import type { Container } from 'inversify';
import type { TestOptions } from './index.js';

/** What each test container was made with, so a run handed the container keeps its config and clock. */
export const madeWith = new WeakMap<Container, TestOptions>();
