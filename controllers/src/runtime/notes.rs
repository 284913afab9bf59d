//! What a reconcile did, in its own words: a reconcile calls [`note`] for each change it makes
//! (`created Instance web-x1`), and the driver gathers the notes of each run for the reconcile
//! history. The notes live in a task-local, so reconcile signatures stay as they are; outside
//! a run, a note goes nowhere.

use std::cell::RefCell;
use std::future::Future;

tokio::task_local! {
    static NOTES: RefCell<Vec<String>>;
}

/// Notes one thing the running reconcile did.
pub fn note(action: impl Into<String>) {
    let _ = NOTES.try_with(|notes| notes.borrow_mut().push(action.into()));
}

/// Runs `run`, returning its output and the notes it made.
pub async fn gathered<F: Future>(run: F) -> (F::Output, Vec<String>) {
    NOTES
        .scope(RefCell::new(Vec::new()), async move {
            let output = run.await;
            let notes = NOTES.with(|notes| notes.take());
            (output, notes)
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn notes_made_during_a_run_are_gathered_and_others_dropped() {
        note("before");
        let (output, notes) = gathered(async {
            note("created Instance web-x1");
            tokio::task::yield_now().await;
            note("wrote status");
            7
        })
        .await;
        assert_eq!(output, 7);
        assert_eq!(notes, ["created Instance web-x1", "wrote status"]);
    }
}
