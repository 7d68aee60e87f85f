import { describe, expect, it } from 'vitest';
import { CHILD_ERROR_CODES, classifyStderr, commandLine, isRetryableChildError, troubleshootingFor, type ChildDescription } from '../../../machines/lib/childErrors.ts';

const flask: ChildDescription = {
  name: 'flask',
  external: false,
  command: '/usr/bin/python3',
  args: ['/srv/my app/app.py'],
  cwd: '/srv/my app',
  script: '/srv/my app/app.py',
  python: true,
  requires: ['flask', 'flask_cors'],
  host: '127.0.0.1',
  port: 5001,
  url: 'http://127.0.0.1:5001',
  healthUrl: 'http://127.0.0.1:5001/health',
};

describe('classifyStderr', () => {
  it('recognises a port clash as Python, werkzeug and Node print it', () => {
    expect(classifyStderr(['OSError: [Errno 98] Address already in use'])?.code).toBe('PORT_IN_USE');
    expect(classifyStderr(['Address already in use', 'Port 5001 is in use by another program.'])?.code).toBe('PORT_IN_USE');
    expect(classifyStderr(['Error: listen EADDRINUSE: address already in use 127.0.0.1:5001'])?.code).toBe('PORT_IN_USE');
  });

  it('recognises a missing module and names it', () => {
    expect(classifyStderr(["ModuleNotFoundError: No module named 'flask_cors'"])).toEqual({
      code: 'DEPENDENCY_ERROR',
      line: "ModuleNotFoundError: No module named 'flask_cors'",
      module: 'flask_cors',
    });
    expect(classifyStderr(["ImportError: cannot import name 'CORS' from 'flask_cors' (/x.py)"])).toMatchObject({ code: 'DEPENDENCY_ERROR', module: 'flask_cors' });
    expect(classifyStderr(['ImportError: something odd'])).toEqual({ code: 'DEPENDENCY_ERROR', line: 'ImportError: something odd' });
  });

  it('the latest matching line wins; an unknown crash is null', () => {
    expect(classifyStderr(["No module named 'a'", 'OSError: [Errno 98] Address already in use'])?.code).toBe('PORT_IN_USE');
    expect(classifyStderr(['Traceback (most recent call last):', 'RuntimeError: boom'], 1)).toBeNull();
    expect(classifyStderr([])).toBeNull();
  });

  it('exit 126/127 with an exec failure is PROCESS_SPAWN_ERROR', () => {
    expect(classifyStderr(['setpriv: failed to execute /nope: No such file or directory'], 127)?.code).toBe('PROCESS_SPAWN_ERROR');
    expect(classifyStderr(['setpriv: failed to execute /nope: No such file or directory'], 1)).toBeNull();
  });
});

describe('troubleshooting', () => {
  it('gives every code at least one step, and names the command to run', () => {
    for (const code of CHILD_ERROR_CODES) expect(troubleshootingFor(code, flask).length).toBeGreaterThan(0);
    expect(troubleshootingFor('DEPENDENCY_ERROR', flask, { module: 'flask_cors' })).toEqual([
      "check the import: /usr/bin/python3 -c 'import flask_cors'",
      'install it for that interpreter: sudo apt-get install -y python3-flask-cors (or pip install into its environment)',
      'or point "interpreter" of child "flask" in lifeline.config.json at a python3 that has it',
    ]);
    expect(troubleshootingFor('PORT_IN_USE', flask)[0]).toBe("see which process holds the port: ss -ltnp 'sport = :5001'");
    expect(troubleshootingFor('HEALTH_CHECK_TIMEOUT', flask)[0]).toBe('probe the health URL: curl -sv http://127.0.0.1:5001/health');
    const exhausted = troubleshootingFor('RESTART_BUDGET_EXHAUSTED', flask, { cause: 'PORT_IN_USE' });
    expect(exhausted[0]).toContain('ss -ltnp');
    expect(exhausted.at(-1)).toContain('/api/children/flask/start');
  });

  it('quotes what a shell would split', () => {
    expect(commandLine(flask)).toBe("/usr/bin/python3 '/srv/my app/app.py'");
    expect(troubleshootingFor('PROCESS_CRASH', flask)[0]).toBe("run it by hand to see its output: cd '/srv/my app' && /usr/bin/python3 '/srv/my app/app.py'");
  });

  it('only configuration problems are not retryable', () => {
    expect(CHILD_ERROR_CODES.filter((c) => !isRetryableChildError(c))).toEqual(['PYTHON_NOT_FOUND', 'COMMAND_NOT_FOUND', 'SCRIPT_NOT_FOUND', 'DEPENDENCY_ERROR']);
  });
});
