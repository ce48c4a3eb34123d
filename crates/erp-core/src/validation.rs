//! Collecting every problem of a request at once, so a client fixes all of
//! them in one round trip (the contract's 422 lists every invalid field).

use std::fmt;

use serde::Serialize;

/// One invalid field: a JSON path such as `lines[2].quantity` and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldProblem {
    /// Where, as a path into the request.
    pub field: String,
    /// What is wrong, for a human.
    pub problem: String,
}

/// A request that cannot become a command; holds at least one problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ValidationError {
    problems: Vec<FieldProblem>,
}

impl ValidationError {
    /// Every problem found.
    pub fn problems(&self) -> &[FieldProblem] {
        &self.problems
    }

    /// A validation error with one problem.
    pub fn single(field: impl Into<String>, problem: impl fmt::Display) -> Self {
        let mut p = Problems::default();
        p.add(field, problem);
        Self { problems: p.0 }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {}", p.field, p.problem)?;
        }
        Ok(())
    }
}

/// Accumulates problems while a request is parsed field by field.
#[derive(Debug, Default)]
pub struct Problems(Vec<FieldProblem>);

impl Problems {
    /// Records a problem.
    pub fn add(&mut self, field: impl Into<String>, problem: impl fmt::Display) {
        self.0.push(FieldProblem {
            field: field.into(),
            problem: problem.to_string(),
        });
    }

    /// Keeps the value of `result`, or records its error under `field`.
    pub fn check<T, E: fmt::Display>(
        &mut self,
        field: impl Into<String>,
        result: Result<T, E>,
    ) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.add(field, e);
                None
            }
        }
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(value)` when nothing was recorded, else every problem.
    ///
    /// The value is usually assembled from the `Option`s returned by
    /// [`Problems::check`], so it is only available when all are `Some`.
    pub fn finish<T>(self, value: Option<T>) -> Result<T, ValidationError> {
        match (self.0.is_empty(), value) {
            (true, Some(v)) => Ok(v),
            (true, None) => Err(ValidationError::single("", "invalid request")),
            (false, _) => Err(ValidationError { problems: self.0 }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_every_problem_in_order() {
        let mut p = Problems::default();
        let a: Option<u8> = p.check("a", Err::<u8, _>("is wrong"));
        let b = p.check("b", Ok::<u8, &str>(2));
        p.add("c", "is missing");
        let err = p.finish(a.zip(b)).unwrap_err();
        let fields: Vec<_> = err.problems().iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields, ["a", "c"]);
        assert_eq!(err.to_string(), "a: is wrong; c: is missing");
    }

    #[test]
    fn finishes_with_the_value_when_clean() {
        let mut p = Problems::default();
        let v = p.check("a", Ok::<u8, &str>(1));
        assert_eq!(p.finish(v).unwrap(), 1);
    }
}
