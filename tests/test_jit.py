"""jit: a replayed step gives the eager step's numbers bit for bit, or says why it cannot."""

import contextlib
import importlib
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_ae import MLP, SGD, Adam, Dense, Function, FusedAdam, JitError, Tensor, jit, mse
from tinygrad_ae.jit import CompiledStep

jit_module = importlib.import_module("tinygrad_ae.jit")  # tinygrad_ae.jit is the function

OPTIMIZERS = {"SGD": lambda ps: SGD(ps, lr=0.05, momentum=0.9), "Adam": lambda ps: Adam(ps, lr=1e-2),
              "FusedAdam": lambda ps: FusedAdam(ps, lr=1e-2)}

# Unary ops a random program may use (abs is left out: it multiplies by a sign taken from the
# data outside the ops, which does not compile, see test_value_dependent_constants_are_caught).
UNARY = [lambda t: t.exp(), lambda t: t.tanh(), lambda t: t.sigmoid(), lambda t: t.relu(),
         lambda t: t ** 2, lambda t: -t, lambda t: t * 0.5, lambda t: t.clip(-1, 1),
         lambda t: t.softmax(axis=-1), lambda t: t.sum(axis=-1, keepdims=True), lambda t: t.max(axis=0),
         lambda t: t.mean(), 
         lambda t: (t.reshape(-1, 1) @ t.reshape(1, -1)).sum(axis=0).reshape(t.shape),  # a matmul, same shape
         lambda t: (t.T * 1.5).T.sigmoid(), lambda t: t.T.sum(axis=0, keepdims=True).T * t]  # Fortran order, as eager makes it
BINARY = [lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b, lambda a, b: a.maximum(b)]


def run_steps(make_step, calls):
    """Losses and final parameters after calling the step on each (x, y) in ``calls``."""
    step, params = make_step()
    losses = [np.array(step(x, y).data) for x, y in calls]
    return losses, [p.data.copy() for p in params]


def assert_same_run(eager, compiled):
    for a, b in zip(eager[0] + eager[1], compiled[0] + compiled[1]):
        np.testing.assert_array_equal(a, b)  # bit for bit (NaN equal to NaN)


@st.composite
def programs(draw):
    """A random composition of ops on an input x (3, 4) and parameters of broadcasting shapes;
    values are reused (diamonds) and every one of them goes into the loss."""
    steps = []
    for i in range(draw(st.integers(1, 8))):
        available = 4 + i  # x, W, b, c, then each earlier result
        if draw(st.booleans()):
            steps.append(("unary", draw(st.integers(0, len(UNARY) - 1)), draw(st.integers(0, available - 1))))
        else:
            steps.append(("binary", draw(st.integers(0, len(BINARY) - 1)),
                          draw(st.integers(0, available - 1)), draw(st.integers(0, available - 1))))
    return (steps, draw(st.sampled_from(sorted(OPTIMIZERS))), draw(st.integers(0, 2**16)),
            draw(st.sampled_from([np.float32, np.float32, np.float64])))


def program_step(steps, optimizer, seed, dtype=np.float32):
    """The program as a training step; ``dtype`` float64 parameters meet float32 inputs (promotion)."""
    rng = np.random.default_rng(seed)
    params = [Tensor(rng.uniform(-1, 1, shape).astype(dtype), requires_grad=True, dtype=dtype)
              for shape in [(3, 4), (4,), (3, 1)]]
    opt = OPTIMIZERS[optimizer](params)

    def step(x, y):
        opt.zero_grad()
        values = [Tensor(x)] + params
        for kind, op, *inputs in steps:
            args = [values[i] for i in inputs]
            values.append(UNARY[op](*args) if kind == "unary" else BINARY[op](*args))
        loss = sum(v.sum() for v in values[1:]) + mse(values[-1].sum() * Tensor(y), Tensor(y))
        loss.backward()
        opt.step()
        return loss
    return step, params


@contextlib.contextmanager
def generating_code(on: bool):
    """jit's replay as generated code (GeneratedPlan, the default) or as the plain loop (Plan)."""
    before = jit_module.GENERATE_CODE
    jit_module.GENERATE_CODE = on
    try:
        yield
    finally:
        jit_module.GENERATE_CODE = before


@settings(max_examples=100, deadline=None)
@given(programs())
def test_replay_equals_eager_on_random_programs(program):
    steps, optimizer, seed, dtype = program
    rng = np.random.default_rng(seed)
    calls = [(rng.normal(size=(3, 4)).astype(np.float32), rng.normal(size=(1,)).astype(np.float32))
             for _ in range(5)]
    with np.errstate(all="ignore"):  # exp of exp may overflow: inf and NaN must match too
        eager = run_steps(lambda: program_step(steps, optimizer, seed, dtype), calls)
        for generated in (True, False):
            with generating_code(generated):
                compiled = run_steps(lambda: (lambda s, p: (jit(s), p))(*program_step(steps, optimizer, seed, dtype)),
                                     calls)
            assert_same_run(eager, compiled)


def test_generated_code_writes_into_arrays_made_once_and_returns_copies():
    model = MLP([Dense(6, 3, seed=0), Dense(3, 6, activation="sigmoid", seed=1)])
    step = jit(model_step(model, "FusedAdam"))
    x = np.random.default_rng(0).random((4, 6), dtype=np.float32)
    first = [step(x, x) for _ in range(3)][-1]            # the first replay's loss
    kept = first.item()
    buffers = [b.__array_interface__["data"][0] for b in next(iter(step._plans.values())).buffers]
    later = step(x, x)
    assert first.item() == kept and later.item() < kept   # the next replay did not overwrite it
    assert buffers == [b.__array_interface__["data"][0] for b in next(iter(step._plans.values())).buffers]
    source = step.source()
    for line in ["np.multiply(v8, 2.0, out=", "H.sigmoid_into(v6, B[", "np.maximum(v2, 0, out=B[",
                 "K[1]()  # FusedAdam.step"]:
        assert line in source, line
    assert source.count("O[") == 0  # every op of this step has a rule: no op's own forward or backward


@pytest.mark.parametrize("batch, blocks", [(1, 0), (128, 5)])
def test_generated_code_splits_a_product_into_blocks_only_where_matmul_would(batch, blocks):
    """MatMul's rule decides from the shapes, once, what matmul_in_small_blocks decides at every
    call: at batch 1 all five products (forward 2, backward 3) are one np.matmul each, at batch
    128 all five are between one thread's work and SMALL_PRODUCT; the numbers are eager's."""
    model, twin = (MLP([Dense(784, 10, seed=0), Dense(10, 784, activation="sigmoid", seed=1)]) for _ in range(2))
    step, eager = jit(model_step(model, "SGD")), model_step(twin, "SGD")
    x = np.random.default_rng(0).random((batch, 784), dtype=np.float32)
    for _ in range(3):
        assert step(x, x).item() == eager(x, x).item()
    source = step.source()
    assert source.count("matmul_in_small_blocks(") == blocks and source.count("np.matmul(") == 5 - blocks


def model_step(model, optimizer):
    opt = OPTIMIZERS[optimizer](model.parameters())

    def step(x, y):
        opt.zero_grad()
        loss = mse(model(Tensor(x)), Tensor(y))
        loss.backward()
        opt.step()
        return loss
    return step


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
@pytest.mark.parametrize("name", ["mnist_denoising_autoencoder", "mnist_denoising_autoencoder_deep"])
def test_replay_equals_eager_on_the_shipped_models(name, optimizer):
    rng = np.random.default_rng(0)
    # full batches, then a smaller last batch (its own plan), then full ones again
    calls = [rng.random((n, 784), dtype=np.float32) for n in [16, 16, 16, 16, 5, 5, 5, 16]]
    calls = [(x, x) for x in calls]

    def make(compiled):
        model = MLP().load(name)
        step = model_step(model, optimizer)
        return (jit(step) if compiled else step), model.parameters()
    eager, replayed = run_steps(lambda: make(False), calls), run_steps(lambda: make(True), calls)
    assert_same_run(eager, replayed)


def test_replay_equals_eager_on_the_shipped_conv_denoiser():
    """The headline model (the wide MLP refined by convolutions at two scales) as fit trains it: batch 1
    (G arrives with batch 1, where an NCHW gradient's rows are a view) and a batch of 3."""
    from tinygrad_ae import load_model
    rng = np.random.default_rng(0)
    calls = [(x, x) for x in (rng.random((n, 784), dtype=np.float32) for n in [1, 1, 1, 1, 3, 3, 3])]

    def make(compiled):
        model = load_model("mnist_denoising_conv")
        step = model_step(model, "FusedAdam")
        return (jit(step) if compiled else step), model.parameters()
    assert_same_run(run_steps(lambda: make(False), calls), run_steps(lambda: make(True), calls))


def test_each_input_shape_gets_its_own_plan_and_replays_build_no_graph():
    model = MLP([Dense(4, 3, seed=0), Dense(3, 4, activation="sigmoid", seed=1)])
    step = CompiledStep(model_step(model, "FusedAdam"))
    for n in [8, 8, 8, 3, 3, 3]:
        x = np.ones((n, 4), np.float32)
        loss = step(x, x)
    assert step.plans == 2
    assert loss._op is None and not loss.requires_grad  # a replay returns a plain tensor


def test_the_same_array_as_input_and_target_gets_its_own_plan():
    def make(compiled):
        model = MLP([Dense(4, 3, seed=0), Dense(3, 4, activation="sigmoid", seed=1)])
        step = model_step(model, "Adam")
        return (jit(step) if compiled else step), model.parameters()
    rng = np.random.default_rng(0)
    xs = [rng.random((2, 4), dtype=np.float32) for _ in range(4)]
    calls = [(xs[0], xs[0])] * 3 + [(xs[1], xs[2]), (xs[1], xs[2]), (xs[2], xs[3]), (xs[3], xs[3])]
    assert_same_run(run_steps(lambda: make(False), calls), run_steps(lambda: make(True), calls))


def test_a_new_student_op_compiles_without_extra_work():
    class Cube(Function):
        rule = "d/da = 3 a^2"

        def forward(self, a):
            self.saved = a
            return a ** 3

        def backward(self, grad):
            return (3 * self.saved ** 2 * grad,)

    def make(compiled):
        w = Tensor([0.5, -0.2], requires_grad=True)
        opt = SGD([w], lr=0.1)

        def step(x, y):
            opt.zero_grad()
            loss = (Cube.apply(w * Tensor(x)) - Tensor(y)).sum()
            loss.backward()
            opt.step()
            return loss
        return (jit(step) if compiled else step), [w]
    calls = [(np.array([1.0, 2.0], np.float32) * i, np.zeros(2, np.float32)) for i in range(5)]
    assert_same_run(run_steps(lambda: make(False), calls), run_steps(lambda: make(True), calls))


def test_value_dependent_control_flow_is_caught_on_the_second_trace():
    w = Tensor([1.0], requires_grad=True)

    def step(x):
        t = Tensor(x) * w
        return t.exp() if x[0] > 0 else t.tanh()  # the path depends on the data
    compiled = jit(step)
    compiled(np.array([1.0], np.float32))
    with pytest.raises(JitError, match="different work on its second call"):
        compiled(np.array([-1.0], np.float32))


def test_value_dependent_constants_are_caught():
    w = Tensor([1.0, -2.0], requires_grad=True)
    compiled = jit(lambda x: (Tensor(x) * w).sign().sum())  # sign's values are a constant taken from the data
    compiled(np.array([1.0, 1.0], np.float32))
    with pytest.raises(JitError, match=r"op 1 \(Where\) got other inputs, constants"):
        compiled(np.array([-1.0, 1.0], np.float32))


def test_fit_falls_back_to_eager_with_a_warning_when_the_step_does_not_compile():
    x = np.random.default_rng(0).random((64, 4), dtype=np.float32)
    model = MLP([Dense(4, 2, seed=0), Dense(2, 4, activation="sigmoid", seed=1)])
    with pytest.warns(UserWarning, match="eagerly from now on"):
        history = model.fit(x, x, epochs=1, batch_size=8, verbose=False, seed=0,
                            loss=lambda p, t: ((p - t) * (p - t).sign()).mean())  # sign: a constant of the data
    assert history.epochs == 1


def test_parameter_updates_outside_an_optimizer_are_refused():
    w = Tensor([1.0], requires_grad=True)

    def step(x):
        loss = (Tensor(x) * w).sum()
        loss.backward()
        w.data -= 0.1 * w.grad  # a replay would not do this
        return loss
    with pytest.raises(JitError, match="outside an optimizer"):
        jit(step)(np.ones(1, np.float32))


@pytest.mark.parametrize("loss", ["l1", "huber", "smooth_l1", "cross_entropy"])
def test_losses_with_abs_or_logsumexp_compile_and_equal_eager(loss):
    """|x| was x * sign(x) with sign(x) a constant of the data, and logsumexp shifted by the data's
    max as a constant: a second trace saw other constants, so fit warned and ran eagerly. Now
    |x| = maximum(x, -x) and the shift is max(x).detach(), both ops of the trace."""
    rng = np.random.default_rng(1)
    x = rng.random((48, 6), dtype=np.float32)
    y = np.eye(6, dtype=np.float32)[rng.integers(0, 6, 48)] if loss == "cross_entropy" else x  # soft targets
    runs = []
    for use_jit in (True, False):
        model = MLP([Dense(6, 4, seed=0), Dense(4, 6, activation="linear", seed=1)])
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no "did different work" fallback to eager
            history = model.fit(x, y, epochs=2, batch_size=16, loss=loss, verbose=False, seed=0, jit=use_jit)
        runs.append((history["train_loss"], [p.data.copy() for p in model.parameters()]))
    assert runs[0][0] == runs[1][0]
    for a, b in zip(runs[0][1], runs[1][1]):
        np.testing.assert_array_equal(a, b)


def test_logsumexp_compiles_with_a_new_shift_each_step():
    def setup():
        w = Tensor(np.linspace(-2, 2, 12, dtype=np.float32).reshape(3, 4), requires_grad=True)
        opt = SGD([w], lr=0.1)

        def step(x):
            opt.zero_grad()
            loss = (Tensor(x) * w).logsumexp(axis=1).sum()
            loss.backward()
            opt.step()
            return loss
        return w, step
    (w_eager, eager), (w_compiled, plain) = setup(), setup()
    compiled, rng = jit(plain), np.random.default_rng(0)
    for _ in range(5):
        x = rng.normal(0, 30, (3, 4)).astype(np.float32)   # a different max in every row, every step
        assert eager(x).item() == compiled(x).item()
    assert compiled.plans == 1
    np.testing.assert_array_equal(w_eager.data, w_compiled.data)


def test_parameter_updates_outside_an_optimizer_are_refused_beside_recorded_calls():
    """A step with recorded calls of its own (BatchNorm's running averages) that updates its
    weights by hand: the change outside the calls is still caught, not replayed as a no-op."""
    from tinygrad_ae import BatchNorm
    model = MLP([Dense(3, 4, seed=0), BatchNorm(4), Dense(4, 3, seed=1)])

    def step(x):
        loss = mse(model(Tensor(x)), Tensor(x))
        loss.backward()
        for p in model.parameters():
            p.data -= 0.1 * p.grad
            p.grad = None
        return loss
    with pytest.raises(JitError, match="outside an optimizer"):
        jit(step)(np.random.default_rng(0).random((5, 3), dtype=np.float32))


def test_a_parameter_changed_before_its_first_use_is_refused_too():
    """Weight decay by hand between zero_grad and the forward pass: the optimizer's parameters
    are watched from its first recorded call, so the change is seen, not replayed as a no-op."""
    w = Tensor([1.0, 2.0], requires_grad=True)
    opt = SGD([w], lr=0.1)

    def step(x):
        opt.zero_grad()
        w.data *= 0.9  # a replay would not do this
        loss = (Tensor(x) * w).sum()
        loss.backward()
        opt.step()
        return loss
    with pytest.raises(JitError, match="outside an optimizer"):
        jit(step)(np.ones(2, np.float32))


@pytest.mark.parametrize("generated", [True, False], ids=["generated code", "plain replay"])
def test_gradient_clipping_is_made_again_in_every_replay(generated):
    """clip_grad_norm scales the gradients outside the ops; replays once skipped it silently."""
    from tinygrad_ae import clip_grad_norm

    def setup():
        model = MLP([Dense(6, 4, seed=0), Dense(4, 6, activation="sigmoid", seed=1)])
        opt = SGD(model.parameters(), lr=0.5)

        def step(x, y):
            opt.zero_grad()
            loss = mse(model(Tensor(x)), Tensor(y))
            loss.backward()
            clip_grad_norm(model.parameters(), max_norm=0.01)   # far below the gradients' norm
            opt.step()
            return loss
        return model, step
    (eager_model, eager), (compiled_model, plain) = setup(), setup()
    with generating_code(generated):
        step, rng = jit(plain), np.random.default_rng(0)
        for _ in range(5):
            x = rng.random((8, 6), dtype=np.float32)
            assert eager(x, x).item() == step(x, x).item()
    assert step.plans == 1
    for a, b in zip(eager_model.parameters(), compiled_model.parameters()):
        np.testing.assert_array_equal(a.data, b.data)


def test_a_step_must_return_tensors():
    with pytest.raises(JitError, match="returned float"):
        jit(lambda x: (Tensor(x) * 2).sum().item())(np.ones(2, np.float32))


def test_loading_other_layers_makes_plans_trace_again(tmp_path):
    model = MLP([Dense(4, 3, seed=0), Dense(3, 4, activation="sigmoid", seed=1)])
    step = jit(lambda x: mse(model(Tensor(x)), Tensor(x)))
    x = np.random.default_rng(0).random((2, 4), dtype=np.float32)
    for _ in range(3):
        step(x)
    other = MLP([Dense(4, 2, seed=5), Dense(2, 4, activation="sigmoid", seed=6)])
    model.load(other.save(tmp_path / "other"))
    loss = step(x)
    assert step.plans == 0  # the old plan used the old layers' tensors: this call traced again
    np.testing.assert_array_equal(loss.data, mse(other(Tensor(x)), Tensor(x)).data)


def test_fit_with_and_without_jit_gives_the_same_history_and_weights():
    x = np.random.default_rng(1).random((100, 6), dtype=np.float32)
    runs = []
    for use_jit in (True, False):
        model = MLP([Dense(6, 3, seed=0), Dense(3, 6, activation="sigmoid", seed=1)])
        history = model.fit(x, x, epochs=3, batch_size=16, verbose=False, seed=0, jit=use_jit)
        runs.append((history["train_loss"], [p.data.copy() for p in model.parameters()]))
    assert runs[0][0] == runs[1][0]
    for a, b in zip(runs[0][1], runs[1][1]):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("generated", [True, False], ids=["generated code", "plain replay"])
def test_batchnorm_running_averages_keep_learning_in_replays(generated):
    """BatchNorm updates its running mean and variance outside the ops (plain numpy, read in eval
    mode); the update is a recorded call that each replay makes again with that step's batch
    statistics. Once, replays skipped it: after fit the averages were those of the traced steps."""
    from tinygrad_ae import BatchNorm, Conv2D, Flatten, Reshape, Sequential

    def setup():
        model = Sequential([Reshape(2, 3, 3), Conv2D(2, 4, 3, padding=1, seed=0), BatchNorm(4), Flatten(),
                            Dense(36, 5, seed=1), BatchNorm(5), Dense(5, 18, activation="sigmoid", seed=2)],
                           input_shape=(18,))
        return model, model_step(model, "Adam")
    (eager_model, eager), (compiled_model, plain) = setup(), setup()
    with generating_code(generated):
        step = jit(plain)
        rng = np.random.default_rng(0)
        for _ in range(6):
            x = rng.random((8, 18), dtype=np.float32)
            assert eager(x, x).item() == step(x, x).item()
    assert step.plans == 1 and (("BatchNorm.update_running_averages" in step.source()) == generated)
    norms = [(a, b) for a, b in zip(eager_model.layers, compiled_model.layers) if isinstance(a, BatchNorm)]
    for a, b in norms:
        np.testing.assert_array_equal(a.running_mean, b.running_mean)
        np.testing.assert_array_equal(a.running_var, b.running_var)
        assert not np.allclose(b.running_var, 1.0)   # they did move from their start
    x = np.random.default_rng(1).random((4, 18), dtype=np.float32)
    np.testing.assert_array_equal(eager_model.predict(x), compiled_model.predict(x))  # eval mode reads them


@pytest.mark.parametrize("use_jit", [True, False], ids=["compiled", "eager"])
def test_a_nan_batch_does_not_spoil_batchnorms_running_averages(use_jit):
    """fit(on_nonfinite="skip") leaves a NaN batch's step out; its batch statistics must not
    reach the running averages either, or every later prediction would be NaN."""
    from tinygrad_ae import BatchNorm
    x = np.random.default_rng(0).random((64, 3), dtype=np.float32)
    x[5, 1] = np.nan
    model = MLP([Dense(3, 4, seed=0), BatchNorm(4), Dense(4, 3, seed=1)])
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        history = model.fit(x, x.copy(), epochs=2, batch_size=8, verbose=False, seed=0, on_nonfinite="skip", jit=use_jit)
    assert len(history["skipped_steps"]) == 2                      # the NaN batch, once per epoch
    assert np.isfinite(model.layers[1].running_mean).all() and np.isfinite(model.layers[1].running_var).all()
    assert np.isfinite(model.predict(x[6:8])).all()


def test_fit_with_and_without_jit_gives_the_same_batchnorm_averages():
    from tinygrad_ae import BatchNorm
    x = np.random.default_rng(1).random((100, 6), dtype=np.float32)
    runs = []
    for use_jit in (True, False):
        model = MLP([Dense(6, 4, seed=0), BatchNorm(4), Dense(4, 6, activation="sigmoid", seed=1)])
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # compiles: no fallback to eager
            model.fit(x, x, epochs=2, batch_size=16, verbose=False, seed=0, jit=use_jit)
        runs.append((model.layers[1].running_mean.copy(), model.layers[1].running_var.copy()))
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("on_nonfinite", ["stop", "skip"])
def test_fit_compiled_refuses_a_nan_step_as_eager_does(on_nonfinite):
    x = np.random.default_rng(2).random((96, 6), dtype=np.float32)
    x[70, 1] = np.nan
    # a shuffle seed that puts the bad row after fit's first two (traced) batches: a replay meets it
    seed = next(s for s in range(100) if np.argmax(np.random.default_rng(s).permutation(96) == 70) >= 32)
    runs = []
    for use_jit in (True, False):
        model = MLP([Dense(6, 3, seed=0), Dense(3, 6, activation="sigmoid", seed=1)])
        with pytest.warns(RuntimeWarning) if on_nonfinite == "stop" else warnings.catch_warnings():
            history = model.fit(x, x, epochs=2, batch_size=16, verbose=False, seed=seed, jit=use_jit,
                                on_nonfinite=on_nonfinite)
        runs.append((history.stopped_reason, history["train_loss"], [p.data.copy() for p in model.parameters()]))
    assert runs[0][:2] == runs[1][:2]
    for a, b in zip(runs[0][2], runs[1][2]):
        assert np.isfinite(a).all()
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------- found by a second reader of the generated code


def assert_replays_equal_eager(step, make_args, calls=4, grads=()):
    """Eager results (and grads) first; then the compiled step: trace, trace, replay, replay."""
    expected = []
    for i in range(calls):
        out = step(*make_args(i))
        expected.append([np.array(out.data)] + [g.grad.copy() for g in grads])
    compiled = jit(step)
    for i in range(calls):
        out = compiled(*make_args(i))
        for a, b in zip([np.array(out.data)] + [g.grad for g in grads], expected[i]):
            np.testing.assert_array_equal(a, b)


def test_a_view_returned_by_an_ops_own_backward_keeps_its_array():
    """Reshape's own backward returns a view of its gradient: that array must not be reused
    for another op's result while the view is still to be added to the leaf's grad."""
    rng = np.random.default_rng(0)
    X, c, d = (Tensor(rng.normal(size=shape).astype(np.float32), requires_grad=True) for shape in [(1, 16), (16,), (16,)])
    x = rng.normal(size=16).astype(np.float32)

    def step(x):
        for p in (X, c, d):
            p.zero_grad()
        loss = (X.reshape(16) * c).sum() + (Tensor(x) * d * d).sum() + (X * Tensor(x)).sum()
        loss.backward()
        return loss
    assert_replays_equal_eager(step, lambda i: (x,), grads=(X, c, d))


def test_arrays_keep_eagers_memory_order_so_sums_add_in_the_same_order():
    from tinygrad_ae import Conv2D
    rng = np.random.default_rng(0)
    w = Tensor(rng.normal(size=(64, 64)).astype(np.float32), requires_grad=True)

    def transposed(x):   # eager's w.T * x.T is in Fortran order, and so must the replay's be
        w.zero_grad()
        loss = (w.T * Tensor(x).T).sum()
        loss.backward()
        return loss
    assert_replays_equal_eager(transposed, lambda i: (np.random.default_rng(i).normal(size=(64, 64)).astype(np.float32),),
                               grads=(w,))
    conv = Conv2D(3, 16, 3, seed=0)

    def channels_last(x):  # a convolution's output is channels-last under its NCHW shape
        h = conv(Tensor(x))
        (h.sum(axis=(0, 2, 3)) ** 2).sum().backward()
        return h.sum(axis=(0, 2, 3))
    assert_replays_equal_eager(channels_last, lambda i: (np.random.default_rng(i).random((16, 3, 20, 20), dtype=np.float32),))


def test_overflow_gives_eagers_inf_and_nan():
    """The square's backward is grad * (2 a): for a = 3e38, 2 a is inf, and inf * 0 is NaN."""
    a = Tensor(np.array([3e38, 0.5], np.float32), requires_grad=True)

    def step(c):
        a.zero_grad()
        loss = (a ** 2).sum() * Tensor(c)
        loss.backward()
        return loss
    with np.errstate(over="ignore", invalid="ignore"):
        assert_replays_equal_eager(step, lambda i: (np.array([0.25, 0.0][i % 2], np.float32),), grads=(a,))
