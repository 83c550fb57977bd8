/**
 * Rise and fall of one target's health (src/agent/health.ts): a down target comes up only after `rise`
 * successes in a row and an up one goes down only after `fall` failures in a row, any result of the other kind
 * resetting the streak; the initial health decides which count applies first; OK and WARNING are successes,
 * CRITICAL and UNKNOWN failures; transitions say from, to and after how many results; a reload (setRules)
 * keeps health and streak; `since` moves only when the health changes.
 */
import assert from 'node:assert/strict';
import {HealthState, isSuccess, type HealthRules, type Transition} from '../../../src/agent/health.js';
import {State} from '../../../src/core/result/state.js';

const rules = (rise: number, fall: number, initial: HealthRules['initial'] = 'down'): HealthRules => ({rise, fall, initial});

/** Records `results` (true = success) at times 1, 2, 3, ... after `start`; the transition of each (or undefined). */
function feed(health: HealthState, results: readonly boolean[], start = 0): Array<Transition | undefined> {
  return results.map((success, i) => health.record(success, start + i + 1));
}

describe('agent/health: rise and fall', () => {
  it('a target that starts down comes up after exactly `rise` successes in a row', () => {
    const health = new HealthState(rules(3, 2), 0);
    assert.equal(health.health, 'down');
    const transitions = feed(health, [true, true, true]);
    assert.deepEqual(transitions.slice(0, 2), [undefined, undefined], 'two successes are not enough');
    assert.equal(health.successesInARow, 3);
    assert.deepEqual(transitions[2], {from: 'down', to: 'up', after: 3});
    assert.equal(health.health, 'up');
    assert.equal(health.changes, 1);
  });

  it('a failure resets the success streak of a down target', () => {
    const health = new HealthState(rules(3, 2), 0);
    const transitions = feed(health, [true, true, false, true, true]);
    assert.deepEqual(transitions, [undefined, undefined, undefined, undefined, undefined]);
    assert.equal(health.health, 'down', 'success, success, failure, success, success is never 3 in a row');
    assert.equal(health.successesInARow, 2);
    assert.equal(health.failuresInARow, 0);
    assert.deepEqual(health.record(true, 10), {from: 'down', to: 'up', after: 3});
  });

  it('an up target goes down after exactly `fall` failures in a row, a success resetting the count', () => {
    const health = new HealthState(rules(2, 3), 0);
    feed(health, [true, true]);
    assert.equal(health.health, 'up');
    assert.deepEqual(feed(health, [false, false, true, false, false], 10), [undefined, undefined, undefined, undefined, undefined]);
    assert.equal(health.health, 'up');
    assert.equal(health.failuresInARow, 2);
    assert.deepEqual(health.record(false, 20), {from: 'up', to: 'down', after: 3});
    assert.equal(health.health, 'down');
    assert.equal(health.changes, 2);
  });

  it('a target that starts up needs `fall` failures before it goes down, and successes change nothing', () => {
    const health = new HealthState(rules(5, 2, 'up'), 0);
    assert.equal(health.health, 'up');
    assert.deepEqual(feed(health, [true, true, true, false]), [undefined, undefined, undefined, undefined]);
    assert.equal(health.health, 'up');
    assert.deepEqual(health.record(false, 10), {from: 'up', to: 'down', after: 2});
    assert.equal(health.changes, 1);
  });

  it('a target that starts down ignores failures (no transition, no change count)', () => {
    const health = new HealthState(rules(2, 1), 0);
    assert.deepEqual(feed(health, [false, false, false, false]), [undefined, undefined, undefined, undefined]);
    assert.equal(health.health, 'down');
    assert.equal(health.failuresInARow, 4);
    assert.equal(health.changes, 0);
  });

  it('transitions report the streak length that made them, even when it exceeds the rule after a reload', () => {
    const health = new HealthState(rules(5, 2), 0);
    feed(health, [true, true, true]);
    health.setRules(rules(2, 2));
    // The streak (3) already exceeds the new rise (2): the next success brings the target up after 4.
    assert.deepEqual(health.record(true, 10), {from: 'down', to: 'up', after: 4});
  });

  it('isSuccess: OK and WARNING are successes, CRITICAL and UNKNOWN failures', () => {
    assert.equal(isSuccess(State.Ok), true);
    assert.equal(isSuccess(State.Warning), true);
    assert.equal(isSuccess(State.Critical), false);
    assert.equal(isSuccess(State.Unknown), false);
  });

  it('WARNING results bring a target up, UNKNOWN and CRITICAL take it down (through isSuccess)', () => {
    const health = new HealthState(rules(2, 2), 0);
    assert.equal(health.record(isSuccess(State.Warning), 1), undefined);
    assert.deepEqual(health.record(isSuccess(State.Warning), 2), {from: 'down', to: 'up', after: 2});
    assert.equal(health.record(isSuccess(State.Unknown), 3), undefined);
    assert.deepEqual(health.record(isSuccess(State.Critical), 4), {from: 'up', to: 'down', after: 2});
    // UNKNOWN breaks a success streak like any failure.
    health.record(isSuccess(State.Ok), 5);
    health.record(isSuccess(State.Unknown), 6);
    assert.equal(health.record(isSuccess(State.Ok), 7), undefined);
    assert.equal(health.health, 'down');
  });

  it('setRules keeps the health and the streak', () => {
    const health = new HealthState(rules(3, 3), 0);
    feed(health, [true, true, true]);
    assert.equal(health.health, 'up');
    feed(health, [false, false], 10);
    health.setRules(rules(1, 4));
    assert.equal(health.health, 'up', 'a reload does not reset the health');
    assert.equal(health.failuresInARow, 2, 'nor the streak');
    assert.equal(health.record(false, 20), undefined, 'three failures, the new fall is 4');
    assert.deepEqual(health.record(false, 21), {from: 'up', to: 'down', after: 4});
    // The new rise (1) applies too.
    assert.deepEqual(health.record(true, 22), {from: 'down', to: 'up', after: 1});
  });

  it('`since` is the configuration time until the first transition and moves only on transitions', () => {
    const health = new HealthState(rules(2, 2), 1000);
    assert.equal(health.since, 1000);
    health.record(true, 1100);
    health.record(false, 1200);
    health.record(true, 1300);
    assert.equal(health.since, 1000, 'results without a transition leave it');
    health.record(true, 1400);
    assert.equal(health.health, 'up');
    assert.equal(health.since, 1400);
    health.record(true, 1500);
    health.record(false, 1600);
    health.setRules(rules(1, 1));
    assert.equal(health.since, 1400, 'neither further successes, a failure short of fall, nor a reload move it');
    health.record(false, 1700);
    assert.equal(health.health, 'down');
    assert.equal(health.since, 1700);
  });
});
