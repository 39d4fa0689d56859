//! The executor of one request's future: polled at once, and again from the promise callback that
//! wakes it, in the same microtask.
//!
//! wasm-bindgen's executor (`future_to_promise`) queues every wake-up through `queueMicrotask`,
//! which workerd implements as an API call (a function wrapped for the isolate, a task queued),
//! and builds a Promise, a closure pair and a task per request before the first poll. A request
//! here is one future with nothing else to run beside it, so it needs none of that: a wake-up
//! polls the future where it is, and only a future that is still pending after its first poll gets
//! a Promise (made in `js/glue.js`, resolved when the future finishes). Under workerd here, a
//! request that awaits one promise cost ~9 µs of CPU more than one that awaits none with
//! wasm-bindgen's executor, ~3 µs with this one (see BENCHMARKS.md).

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};
use wasm_bindgen::{JsCast, JsValue};

type Job = Pin<Box<dyn Future<Output = JsValue>>>;

struct Task {
    /// None once the future has finished.
    future: RefCell<Option<Job>>,
    /// The function that resolves the Promise handed to JS, once the first poll was pending.
    resolve: RefCell<Option<js_sys::Function>>,
    /// Set while the future is being polled, so that a wake-up from inside the poll (a combinator
    /// waking its parent) is noted, not run re-entrantly.
    polling: Cell<bool>,
    woken: Cell<bool>,
}

/// Runs `future`: its value when it finishes without waiting, else a Promise of it.
pub fn run(future: impl Future<Output = JsValue> + 'static) -> JsValue {
    let task = Rc::new(Task { future: RefCell::new(Some(Box::pin(future))), resolve: RefCell::new(None), polling: Cell::new(false), woken: Cell::new(false) });
    if let Some(value) = poll(&task) {
        return value;
    }
    let pair = super::boundary::deferred();
    *task.resolve.borrow_mut() = Some(pair.get(1).unchecked_into());
    pair.get(0)
}

/// Polls until the future is pending without a wake-up in between; its value once it finished.
fn poll(task: &Rc<Task>) -> Option<JsValue> {
    if task.polling.replace(true) {
        task.woken.set(true);
        return None;
    }
    let waker = waker(task.clone());
    let mut cx = Context::from_waker(&waker);
    let value = loop {
        task.woken.set(false);
        let mut slot = task.future.borrow_mut();
        let Some(future) = slot.as_mut() else { break None };
        if let Poll::Ready(value) = future.as_mut().poll(&mut cx) {
            *slot = None;
            break Some(value);
        }
        if !task.woken.get() {
            break None;
        }
    };
    task.polling.set(false);
    value
}

/// A wake-up, from a promise callback: poll now, and resolve the Promise if the future finished.
fn wake(task: &Rc<Task>) {
    if let Some(value) = poll(task) {
        if let Some(resolve) = task.resolve.borrow_mut().take() {
            // Resolving a Promise with a value does not throw.
            let _ = resolve.call1(&JsValue::UNDEFINED, &value);
        }
    }
}

// A waker is an `Rc<Task>`: the isolate runs one thread, so nothing crosses threads.
const VTABLE: RawWakerVTable = RawWakerVTable::new(clone_raw, wake_raw, wake_by_ref_raw, drop_raw);

fn waker(task: Rc<Task>) -> Waker {
    // SAFETY: the pointer comes from `Rc::into_raw` and the vtable keeps the count balanced.
    unsafe { Waker::from_raw(RawWaker::new(Rc::into_raw(task).cast(), &VTABLE)) }
}

unsafe fn clone_raw(ptr: *const ()) -> RawWaker {
    Rc::increment_strong_count(ptr.cast::<Task>());
    RawWaker::new(ptr, &VTABLE)
}

unsafe fn wake_raw(ptr: *const ()) {
    let task = Rc::from_raw(ptr.cast::<Task>());
    wake(&task);
}

unsafe fn wake_by_ref_raw(ptr: *const ()) {
    let task = std::mem::ManuallyDrop::new(Rc::from_raw(ptr.cast::<Task>()));
    wake(&task);
}

unsafe fn drop_raw(ptr: *const ()) {
    drop(Rc::from_raw(ptr.cast::<Task>()));
}

// ---------------------------------------------------------------------------------------------
// Awaiting a JS promise
// ---------------------------------------------------------------------------------------------

/// A promise's outcome as a future, for the awaits on this adapter's own calls (D1, WebCrypto,
/// fetch). `JsFuture` builds two wasm-bindgen closures per await (each a JS function registered
/// for finalization); here `js/glue.js` attaches two plain arrow functions that call one function
/// registered once per isolate, which finds the await by its number.
pub struct Settled {
    id: u32,
}

/// The awaits in flight (a request has one or two at a time), and the last number given.
#[derive(Default)]
struct Awaits {
    next: u32,
    pending: Vec<Await>,
}

/// One await: what its promise settled to, or the waker of the task waiting for it.
struct Await {
    id: u32,
    outcome: Option<Result<JsValue, JsValue>>,
    waker: Option<Waker>,
}

thread_local! {
    static AWAITS: RefCell<Awaits> = RefCell::new(Awaits::default());
}

/// Awaits `promise` (see [`Settled`]).
pub fn settled(promise: &js_sys::Promise) -> Settled {
    register_settler();
    let id = AWAITS.with(|a| {
        let mut a = a.borrow_mut();
        a.next = a.next.wrapping_add(1);
        let id = a.next;
        a.pending.push(Await { id, outcome: None, waker: None });
        id
    });
    super::boundary::settle(promise, id);
    Settled { id }
}

impl Future for Settled {
    type Output = Result<JsValue, JsValue>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        AWAITS.with(|a| {
            let mut a = a.borrow_mut();
            let Some(i) = a.pending.iter().position(|w| w.id == self.id) else {
                return Poll::Ready(Err(JsValue::from_str("the await was already finished")));
            };
            if let Some(outcome) = a.pending[i].outcome.take() {
                a.pending.swap_remove(i);
                return Poll::Ready(outcome);
            }
            a.pending[i].waker = Some(cx.waker().clone());
            Poll::Pending
        })
    }
}

impl Drop for Settled {
    /// A dropped await is forgotten: its promise's outcome, if it comes, finds no one.
    fn drop(&mut self) {
        AWAITS.with(|a| a.borrow_mut().pending.retain(|w| w.id != self.id));
    }
}

/// Called from `js/glue.js` when an awaited promise settles: keeps the outcome, wakes its task.
fn on_settled(id: u32, ok: bool, value: JsValue) {
    let waker = AWAITS.with(|a| {
        let mut a = a.borrow_mut();
        let entry = a.pending.iter_mut().find(|w| w.id == id)?;
        entry.outcome = Some(if ok { Ok(value) } else { Err(value) });
        entry.waker.take()
    });
    // Outside the borrow: the wake-up polls the task, which polls this await again.
    if let Some(w) = waker {
        w.wake();
    }
}

/// Hands `js/glue.js` the function it calls when a promise settles, once per isolate.
fn register_settler() {
    thread_local! {
        static REGISTERED: Cell<bool> = const { Cell::new(false) };
    }
    if !REGISTERED.with(|r| r.replace(true)) {
        let settler = wasm_bindgen::closure::Closure::<dyn Fn(u32, bool, JsValue)>::new(on_settled);
        super::boundary::set_settler(settler.as_ref());
        // It lives as long as the isolate.
        settler.forget();
    }
}
