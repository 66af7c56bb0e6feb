import { redisOutageScenario } from '../support/redis-outage.ts';

// An outage longer than a job lock (10 s): running jobs lose their locks, the queue hands them out
// again, and the second run must not write a second version.
redisOutageScenario('after 12 s', 12_000);
