// GET /sessions, DELETE /sessions/{name}, POST /sessions/{name}/reset: seeing, ending and
// restarting the named bash sessions (OpenHands V1's terminal has the same `reset`).
import type express from 'express';
import type { SessionEnded, SessionInfo, SessionList } from '@runtime-client/protocol';
import { ApiError } from '../errors.js';
import type { SessionPool } from '../shell/pool.js';

export function registerSessionRoutes(app: express.Express, pool: SessionPool): void {
  app.get('/sessions', (_req, res) => {
    const body: SessionList = { sessions: pool.list() };
    res.json(body);
  });

  app.delete('/sessions/:name', async (req, res, next) => {
    try {
      const name = req.params.name;
      if (!(await pool.end(name))) throw new ApiError('not_found', `no session ${JSON.stringify(name)}`);
      const body: SessionEnded = { name, ended: true };
      res.json(body);
    } catch (e) {
      next(e);
    }
  });

  app.post('/sessions/:name/reset', async (req, res, next) => {
    try {
      const name = req.params.name;
      const runner = await pool.reset(name);
      await runner.waitReady();
      const info: SessionInfo | undefined = pool.info(name);
      if (!info) throw new ApiError('conflict', `session ${JSON.stringify(name)} was ended while it started`);
      res.json(info);
    } catch (e) {
      next(e);
    }
  });
}
