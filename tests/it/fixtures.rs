//! Fixtures through the front door: users, organizations, memberships,
//! invitations and custom roles are made with the app's own forms, so every
//! fixture obeys the rules a person meets (validation, the role hierarchy,
//! audit entries, emails) and no test depends on how rows are laid out.
//!
//! Two styles, the same steps underneath:
//!
//! ```ignore
//! // A builder, for a scenario's starting point:
//! let app = app
//!     .with_user("Ann", "ann@example.com").await
//!     .with_org("ann@example.com", "Acme Corp", "acme").await
//!     .with_member("acme", "Bob", "bob@example.com", "admin").await;
//! let ann = app.browser("ann@example.com");
//! // Steps on `&TestApp`, in the middle of a scenario:
//! app.add_member("acme", "cara@example.com", "member").await;
//! ```
//!
//! Changes inside an organization are made by its owner in a browser of
//! their own (signed in for the step, signed out after it), so the test's
//! browsers keep their sessions and their active workspace. Members join by
//! invitation: the owner invites, the invitee follows the emailed link and
//! accepts.

use reqwest::StatusCode;

use crate::support::{Client, PASSWORD, Response, TestApp, hidden_fields};

impl TestApp {
    /// Builder: a user signed up through the form (their browser is
    /// [`TestApp::browser`]).
    pub async fn with_user(self, name: &str, email: &str) -> Self {
        self.signed_up(name, email).await;
        self
    }

    /// Builder: the usual starting point, Ann (`ann@example.com`) signed up
    /// and owning Acme Corp (`acme`), her browser in it.
    pub async fn with_acme(self) -> Self {
        self.with_user("Ann", "ann@example.com")
            .await
            .with_org("ann@example.com", "Acme Corp", "acme")
            .await
    }

    /// Builder: an organization created through the form by `owner_email`'s
    /// browser, which then has it as its active workspace (as a person's
    /// would).
    pub async fn with_org(self, owner_email: &str, name: &str, slug: &str) -> Self {
        let owner = self.browser(owner_email);
        let res = self.create_org(&owner, name, slug).await;
        assert_eq!(
            res.status,
            StatusCode::SEE_OTHER,
            "creating {slug} failed: {}",
            res.body
        );
        self
    }

    /// Builder: `email` (signed up first if they haven't) invited to `slug`
    /// with `role` (a system role key such as `admin`, or a custom role's
    /// name) and accepted through the emailed link.
    pub async fn with_member(self, slug: &str, name: &str, email: &str, role: &str) -> Self {
        if !self.has_browser(email) {
            self.signed_up(name, email).await;
        }
        self.add_member(slug, email, role).await;
        self
    }

    /// Builder: a custom role of `slug` created with the roles form.
    pub async fn with_role(self, slug: &str, name: &str, level: i32, permissions: &[&str]) -> Self {
        self.add_role(slug, name, level, permissions).await;
        self
    }

    /// Builder: a team of `slug` created by its owner on the Teams tab.
    pub async fn with_team(self, slug: &str, team: &str) -> Self {
        let owner = self.owner_of(slug).await;
        let res = owner
            .submit("/settings/teams", "/settings/teams", &[("name", team)])
            .await;
        assert_eq!(
            res.status,
            StatusCode::SEE_OTHER,
            "creating the team {team} in {slug} failed: {}",
            res.body
        );
        self.sign_out(&owner).await;
        self
    }

    /// Builder: `email`, an active member of `slug`, added to its team
    /// `team` with `role` (`admin`, `member`) by the organization's owner
    /// on the team's members page.
    pub async fn with_team_member(self, slug: &str, team: &str, email: &str, role: &str) -> Self {
        let team_id = self.team_id(slug, team).await;
        let role_id = self
            .text_value_with(
                "SELECT id AS value FROM roles WHERE workspace_id = ? AND system_key = ?",
                &[&team_id, role],
            )
            .await;
        let owner = self.owner_of(slug).await;
        let res = owner.switch_to(&team_id).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "switch to {team}");
        let res = owner
            .submit(
                "/settings/members",
                "/settings/members/add",
                &[("email", email), ("role_id", &role_id)],
            )
            .await;
        assert_eq!(
            res.status,
            StatusCode::SEE_OTHER,
            "adding {email} to {team} failed: {}",
            res.body
        );
        self.sign_out(&owner).await;
        self
    }

    /// Builder: a project of `slug` created by its owner.
    pub async fn with_project(self, slug: &str, name: &str) -> Self {
        let owner = self.owner_of(slug).await;
        let res = owner
            .submit("/projects", "/projects", &[("name", name)])
            .await;
        assert_eq!(
            res.status,
            StatusCode::SEE_OTHER,
            "creating the project {name} in {slug} failed: {}",
            res.body
        );
        self.sign_out(&owner).await;
        self
    }

    /// Builder: an agent `name` of `slug` on its project `project`,
    /// created (stopped) by the owner.
    pub async fn with_agent(self, slug: &str, project: &str, name: &str) -> Self {
        let project = self.project_id(slug, project).await;
        let owner = self.owner_of(slug).await;
        let res = owner
            .submit(
                "/agents",
                "/agents",
                &[("name", name), ("project_id", &project)],
            )
            .await;
        assert_eq!(
            res.status,
            StatusCode::SEE_OTHER,
            "creating the agent {name}: {}",
            res.body
        );
        self.sign_out(&owner).await;
        self
    }

    /// Builder: an instance of the catalogue app `key` installed in `slug`
    /// by its owner.
    pub async fn with_app(self, slug: &str, key: &str) -> Self {
        let owner = self.owner_of(slug).await;
        let res = owner
            .submit("/apps", &format!("/apps/{key}/install"), &[])
            .await;
        assert_eq!(
            res.status,
            StatusCode::SEE_OTHER,
            "installing {key}: {}",
            res.body
        );
        self.sign_out(&owner).await;
        self
    }

    /// The id of the project `name` of the workspace `slug`.
    pub async fn project_id(&self, slug: &str, name: &str) -> String {
        self.text_value_with(
            "SELECT p.id AS value FROM projects p JOIN workspaces w ON w.id = p.workspace_id \
             WHERE w.slug = ? AND p.name = ?",
            &[slug, name],
        )
        .await
    }

    /// The owner of `slug` creates a key `name` for its project `project`;
    /// returns the key, as the page shows it once.
    pub async fn add_project_key(&self, slug: &str, project: &str, name: &str) -> String {
        let id = self.project_id(slug, project).await;
        let owner = self.owner_of(slug).await;
        let page = format!("/projects/{id}");
        let res = owner
            .submit(&page, &format!("{page}/keys"), &[("key_name", name)])
            .await;
        assert_eq!(
            res.status,
            StatusCode::CREATED,
            "creating a key: {}",
            res.body
        );
        self.sign_out(&owner).await;
        res.text_of("#new-key-value").expect("the new key")
    }

    /// Builder: the owner of `slug` tops its wallet up with `credits`
    /// through the billing page and the sandbox's paying test card.
    pub async fn with_funds(self, slug: &str, credits: &str) -> Self {
        let owner = self.owner_of(slug).await;
        let res = owner
            .submit(
                "/settings/billing",
                "/billing/top-up",
                &[("amount", credits), ("card_number", "4242 4242 4242 4242")],
            )
            .await;
        assert_eq!(
            res.status,
            StatusCode::SEE_OTHER,
            "topping {slug} up failed: {}",
            res.body
        );
        self.sign_out(&owner).await;
        self
    }

    /// The balance of `slug`'s wallet, in micro-credits.
    pub async fn balance_of(&self, slug: &str) -> i64 {
        self.text_value_with(
            "SELECT CAST(w.balance AS TEXT) AS value FROM wallets w \
             JOIN workspaces s ON s.id = w.workspace_id WHERE s.slug = ?",
            &[slug],
        )
        .await
        .parse()
        .expect("a balance")
    }

    /// The id of the team `team` of the organization `slug`.
    pub async fn team_id(&self, slug: &str, team: &str) -> String {
        self.text_value_with(
            "SELECT t.id AS value FROM workspaces t JOIN workspaces o ON o.id = t.parent_id \
             WHERE o.slug = ? AND t.name = ?",
            &[slug, team],
        )
        .await
    }

    /// Builder: a pending invitation of `email` to `slug` with `role`.
    pub async fn with_invitation(self, slug: &str, name: &str, email: &str, role: &str) -> Self {
        self.add_invitation(slug, name, email, role).await;
        self
    }

    /// A new browser signed in as `email` through the sign-in form.
    pub async fn sign_in(&self, email: &str) -> Client {
        let browser = self.client();
        let res = browser
            .submit(
                "/login",
                "/login",
                &[("email", email), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(
            res.status,
            StatusCode::SEE_OTHER,
            "sign-in of {email} failed: {}",
            res.body
        );
        browser
    }

    /// Signs a fixture browser out, so its session doesn't linger.
    async fn sign_out(&self, browser: &Client) {
        let res = browser.submit("/account", "/logout", &[]).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "sign-out: {}", res.body);
    }

    /// The owner of `slug`, signed in in a browser of their own and
    /// switched to the organization.
    async fn owner_of(&self, slug: &str) -> Client {
        let owner = self
            .text_value_with(
                "SELECT u.email AS value FROM users u \
                 JOIN memberships m ON m.user_id = u.id \
                 JOIN workspaces w ON w.id = m.workspace_id \
                 JOIN roles r ON r.id = m.role_id \
                 WHERE w.slug = ? AND r.system_key = 'owner'",
                &[slug],
            )
            .await;
        let browser = self.sign_in(&owner).await;
        let res = browser.switch_to(&self.workspace_id(slug).await).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "switch to {slug}");
        browser
    }

    /// The id of `slug`'s role with this system key (`owner`, `admin`,
    /// `member`) or, for a custom role, this name.
    pub async fn role_of(&self, slug: &str, key_or_name: &str) -> String {
        let workspace = self.workspace_id(slug).await;
        self.text_value_with(
            "SELECT id AS value FROM roles WHERE workspace_id = ? \
             AND (system_key = ? OR (system_key IS NULL AND name = ?))",
            &[&workspace, key_or_name, key_or_name],
        )
        .await
    }

    /// The id of `email`'s membership of `slug`.
    pub async fn membership_of(&self, slug: &str, email: &str) -> String {
        self.text_value_with(
            "SELECT m.id AS value FROM memberships m \
             JOIN users u ON u.id = m.user_id \
             JOIN workspaces w ON w.id = m.workspace_id \
             WHERE w.slug = ? AND u.email = ?",
            &[slug, email],
        )
        .await
    }

    /// The owner of `slug` invites `email` with `role` through the members
    /// page; returns the form's response.
    pub async fn invite_as_owner(
        &self,
        slug: &str,
        name: &str,
        email: &str,
        role: &str,
    ) -> Response {
        let role_id = self.role_of(slug, role).await;
        let owner = self.owner_of(slug).await;
        let res = owner
            .submit(
                "/settings/members",
                "/settings/members/invite",
                &[("name", name), ("email", email), ("role_id", &role_id)],
            )
            .await;
        self.sign_out(&owner).await;
        res
    }

    /// The owner of `slug` invites `email` with `role` (a system role key or
    /// a custom role's name); the invitation stays pending.
    pub async fn add_invitation(&self, slug: &str, name: &str, email: &str, role: &str) {
        let res = self.invite_as_owner(slug, name, email, role).await;
        assert_eq!(
            res.status,
            StatusCode::SEE_OTHER,
            "inviting {email} to {slug} failed: {}",
            res.body
        );
    }

    /// Makes an existing user a member of `slug` with `role` (a system
    /// role key or a custom role's name): the owner invites them, and they
    /// accept through the link in the email (in a browser of their own).
    pub async fn add_member(&self, slug: &str, email: &str, role: &str) {
        self.add_invitation(slug, email, email, role).await;
        let link = self.invitation_link(email).await;
        let invitee = self.sign_in(email).await;
        let page = invitee.get(&link).await;
        let accept = format!("{link}/accept");
        let hidden = hidden_fields(&page.body, &accept);
        let res = invitee.post_form(&accept, &hidden, &[]).await;
        assert_eq!(
            res.status,
            StatusCode::SEE_OTHER,
            "{email} accepting the invitation to {slug} failed: {}",
            res.body
        );
        self.sign_out(&invitee).await;
    }

    /// The owner of `slug` creates a custom role with the roles form;
    /// returns its id.
    pub async fn add_role(
        &self,
        slug: &str,
        name: &str,
        level: i32,
        permissions: &[&str],
    ) -> String {
        let level = level.to_string();
        let mut fields = vec![("name", name), ("level", level.as_str())];
        fields.extend(permissions.iter().map(|p| ("permissions", *p)));
        let owner = self.owner_of(slug).await;
        let res = owner
            .submit("/settings/roles/new", "/settings/roles", &fields)
            .await;
        assert_eq!(
            res.status,
            StatusCode::SEE_OTHER,
            "creating the role {name} in {slug} failed: {}",
            res.body
        );
        self.sign_out(&owner).await;
        self.role_of(slug, name).await
    }

    /// The owner of `slug` posts a member action (`role`, `deactivate`,
    /// `reactivate`, `remove`) for `email`'s membership.
    async fn member_action(&self, slug: &str, email: &str, action: &str, fields: &[(&str, &str)]) {
        let membership = self.membership_of(slug, email).await;
        let owner = self.owner_of(slug).await;
        let hidden = hidden_fields(
            &owner.get("/settings/members").await.body,
            "/settings/members/invite",
        );
        let res = owner
            .post_form(
                &format!("/settings/members/{membership}/{action}"),
                &hidden,
                fields,
            )
            .await;
        assert_eq!(
            res.status,
            StatusCode::SEE_OTHER,
            "{action} of {email} in {slug} failed: {}",
            res.body
        );
        self.sign_out(&owner).await;
    }

    /// The owner of `slug` gives `email` another role (a system role key or
    /// a custom role's name) with the members page's role form.
    pub async fn set_member_role(&self, slug: &str, email: &str, role: &str) {
        let role_id = self.role_of(slug, role).await;
        self.member_action(slug, email, "role", &[("role_id", &role_id)])
            .await;
    }

    /// The owner of `slug` deactivates `email`'s membership.
    pub async fn deactivate_member(&self, slug: &str, email: &str) {
        self.member_action(slug, email, "deactivate", &[]).await;
    }

    /// The owner of `slug` removes `email` from it.
    pub async fn remove_member(&self, slug: &str, email: &str) {
        self.member_action(slug, email, "remove", &[]).await;
    }
}
