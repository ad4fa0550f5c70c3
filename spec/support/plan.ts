import { expect } from 'chai';
import { PlanError } from 'dionysus';
import { createTestContainer } from 'dionysus/testing';

/** The problems `createTestContainer` reports for an app; fails when it plans without one. */
export function problemsOf(main: Function): readonly string[] {
  try {
    createTestContainer(main as never);
  } catch (error) {
    expect(error).to.be.instanceOf(PlanError);
    return (error as PlanError).problems;
  }
  throw new Error(`${main.name} planned without a problem`);
}
