import { expect } from 'chai';
import { Body, Command, Controller, Get, Main, Param, Post, Run } from 'dionysus';
import { runCommand } from 'dionysus/testing';
import { problemsOf } from '../support/plan.js';

describe('http plan errors', () => {
  it('reports a route on a controller no command lists, naming Class.method, instead of a silent 404', () => {
    @Controller('/admin')
    class AdminController {
      @Get('/stats')
      stats(): object {
        return {};
      }
    }
    @Controller('/orders')
    class OrdersController {
      constructor(readonly admin: AdminController) {}
      @Get('')
      list(): object {
        return [];
      }
    }
    @Command('http', { controllers: [OrdersController] })
    class Http {}
    @Main({ name: 'shop', commands: [Http] })
    class Shop {}

    expect(problemsOf(Shop)).to.deep.equal([
      "AdminController.stats: a route of a class no http command lists in controllers, so it is never served; add AdminController to @Command('http', { controllers: [...] }).",
    ]);
  });

  it('reports route decorators on a command class or a provider', () => {
    class Reports {
      @Get('/reports')
      list(): object {
        return [];
      }
    }
    @Command('http')
    class Http {
      @Post('/upload')
      upload(): object {
        return {};
      }
    }
    @Main({ name: 'shop', commands: [Http], providers: [Reports] })
    class Shop {}

    const problems = problemsOf(Shop);
    expect(problems).to.have.length(2);
    expect(problems[0]).to.equal('Http.upload: route decorators belong on a @Controller class listed in controllers.');
    expect(problems[1]).to.match(/^Reports\.list: a route of a class no http command lists in controllers/);
  });

  it('reports a class listed in controllers without @Controller', () => {
    class Plain {
      @Get('/x')
      x(): object {
        return {};
      }
    }
    @Command('http', { controllers: [Plain] })
    class Http {}
    @Main({ name: 'shop', commands: [Http] })
    class Shop {}

    expect(problemsOf(Shop)).to.deep.equal(['Plain: listed in controllers but has no @Controller(prefix) decorator.']);
  });

  it('reports the same method and path twice, naming both handlers, across controllers too', () => {
    @Controller('/users')
    class UsersController {
      @Get('/:id')
      get(): object {
        return {};
      }
      @Get('/:id')
      find(): object {
        return {};
      }
    }
    @Controller()
    class LegacyController {
      @Get('/users/:id')
      user(): object {
        return {};
      }
      @Post('/users/:id')
      update(): object {
        return {};
      }
    }
    @Command('http', { controllers: [UsersController, LegacyController] })
    class Http {}
    @Main({ name: 'shop', commands: [Http] })
    class Shop {}

    expect(problemsOf(Shop)).to.deep.equal([
      'UsersController.find: GET /users/:id is already served by UsersController.get; each method and path has one handler.',
      'LegacyController.user: GET /users/:id is already served by UsersController.get; each method and path has one handler.',
    ]);
  });

  it('reports controllers on a command that is not an http server', () => {
    @Controller('/jobs')
    class JobsController {
      @Get('')
      list(): object {
        return [];
      }
    }
    @Command('worker', { controllers: [JobsController] })
    class Worker {
      @Run()
      run(): void {}
    }
    @Command('ctl', { controllers: [JobsController] })
    class Ctl {
      @Run()
      run(): void {}
    }
    @Main({ name: 'shop', commands: [Worker, Ctl] })
    class Shop {}

    const problems = problemsOf(Shop);
    expect(problems).to.include(
      "Worker: controllers are served only by an http command; this command's server is none (a task).",
    );
    expect(problems).to.include("Ctl: controllers are served only by an http command; this command's server is ctl.");
  });

  it('fails the command with exit 1 and every problem on stderr, before anything starts', async () => {
    @Controller('/a')
    class A {
      @Get('/x')
      x(): object {
        return {};
      }
      @Get('/x')
      y(): object {
        return {};
      }
    }
    @Command('http', { controllers: [A] })
    class Http {}
    @Main({ name: 'shop', commands: [Http] })
    class Shop {}

    const result = await runCommand(Shop, ['http']);
    expect(result.exitCode).to.equal(1);
    expect(result.stderr).to.include('1 problem in the app');
    expect(result.stderr).to.include('A.y: GET /a/x is already served by A.x');
    expect(result.events.filter((e) => e.type === 'state')).to.deep.equal([]);
  });

  it('reports, all at once, a parameter without a decorator, a schema that is not a Standard Schema and @Body on GET', () => {
    @Controller('/bad')
    class Bad {
      @Get('/:id')
      one(@Param('id') _id: string, _forgotten: string): void {}

      @Post('/two')
      two(@Body({ parse: () => true } as never) _body: unknown): void {}

      @Get('/three')
      three(@Body() _body: unknown): void {}
    }
    @Command('http', { controllers: [Bad] })
    class BadHttp {}
    @Main({ name: 'bad', commands: [BadHttp] })
    class BadApp {}

    expect(problemsOf(BadApp)).to.deep.equal([
      'Bad.one: parameter 2 has no parameter decorator; once one parameter has @Param, @Query, @Headers, @Body or @Ctx, every parameter needs one.',
      'Bad.two: the schema of @Body (parameter 1) is not a Standard Schema; pass a zod, valibot, arktype or other Standard Schema validator.',
      'Bad.three: @Body on a GET route, whose requests carry no body; read @Query or @Param instead.',
    ]);
  });
});
