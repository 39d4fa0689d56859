//! Server-rendered pages: plain HTML and CSS, no JavaScript needed, labelled form controls,
//! localised (English, Brazilian Portuguese). Every interpolated value is HTML-escaped.

use crate::http::Response;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locale {
    En,
    PtBr,
}

impl Locale {
    fn parse(tag: &str) -> Option<Locale> {
        let tag = tag.trim().split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        if tag.starts_with("pt") {
            Some(Locale::PtBr)
        } else if tag.starts_with("en") {
            Some(Locale::En)
        } else {
            None
        }
    }

    /// `ui_locales` (space-separated, in order of preference) wins over `Accept-Language`.
    pub fn negotiate(ui_locales: Option<&str>, accept_language: Option<&str>, default: &str) -> Locale {
        ui_locales
            .and_then(|u| u.split_whitespace().find_map(Locale::parse))
            .or_else(|| accept_language.and_then(|a| a.split(',').find_map(Locale::parse)))
            .or_else(|| Locale::parse(default))
            .unwrap_or(Locale::En)
    }

    pub fn tag(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::PtBr => "pt-BR",
        }
    }
}

/// The page texts. Keys are stable; add a language by adding a column.
pub fn text(locale: Locale, key: &str) -> &'static str {
    let (en, pt) = match key {
        "sign_in" => ("Sign in", "Entrar"),
        "username" => ("Username", "Usuário"),
        "password" => ("Password", "Senha"),
        "invalid_credentials" => ("Invalid username or password.", "Usuário ou senha inválidos."),
        "too_many_attempts" => ("Too many failed sign-in attempts. Try again later.", "Muitas tentativas de entrada sem sucesso. Tente novamente mais tarde."),
        "consent_title" => ("Allow access?", "Permitir acesso?"),
        "consent_intro" => ("wants to access your account. It asks for:", "quer acessar sua conta. Solicita:"),
        "allow" => ("Allow", "Permitir"),
        "details_json" => ("All details", "Todos os detalhes"),
        "deny" => ("Deny", "Negar"),
        "error_title" => ("Something went wrong", "Algo deu errado"),
        "redirecting" => ("Continue", "Continuar"),
        "logout_title" => ("Sign out?", "Sair?"),
        "logout_question" => ("Do you want to sign out?", "Deseja sair?"),
        "sign_out" => ("Sign out", "Sair"),
        "stay" => ("Stay signed in", "Continuar conectado"),
        "signed_out" => ("You are signed out.", "Você saiu."),
        "account_title" => ("Your account", "Sua conta"),
        "signed_in_as" => ("Signed in as", "Conectado como"),
        "applications" => ("Applications you allowed", "Aplicativos autorizados"),
        "no_applications" => ("No application has access.", "Nenhum aplicativo tem acesso."),
        "withdraw" => ("Withdraw access", "Revogar acesso"),
        "sign_in_with" => ("Sign in with", "Entrar com"),
        "or" => ("or", "ou"),
        "pending_title" => ("Your account awaits activation", "Sua conta aguarda ativação"),
        "pending_text" => (
            "Your account was created and an administrator must activate it before you can sign in. Try again once you are told it is active.",
            "Sua conta foi criada e um administrador precisa ativá-la antes que você possa entrar. Tente novamente quando for avisado de que ela está ativa.",
        ),
        "extension_denied_title" => ("You cannot continue", "Não é possível continuar"),
        "extension_failed" => ("The sign-in could not be completed. Try again later.", "Não foi possível concluir a entrada. Tente novamente mais tarde."),
        "back_to_app" => ("Return to the application", "Voltar ao aplicativo"),
        "passkey_sign_in" => ("Sign in with a passkey", "Entrar com uma chave de acesso"),
        "passkeys" => ("Passkeys", "Chaves de acesso"),
        "no_passkeys" => ("You have no passkey.", "Você não tem chave de acesso."),
        "add_passkey" => ("Add a passkey", "Adicionar uma chave de acesso"),
        "passkey_name" => ("Passkey name", "Nome da chave de acesso"),
        "new_name" => ("New name", "Novo nome"),
        "rename" => ("Rename", "Renomear"),
        "delete" => ("Delete", "Excluir"),
        "added" => ("added", "adicionada em"),
        "last_used" => ("last used", "último uso em"),
        "never_used" => ("never used", "nunca usada"),
        "passkey_offer_title" => ("Sign in faster next time?", "Entrar mais rápido da próxima vez?"),
        "passkey_offer_text" => (
            "Add a passkey to this account, then sign in with your fingerprint, face or device PIN instead of your password.",
            "Adicione uma chave de acesso a esta conta e entre com sua digital, rosto ou PIN do dispositivo em vez da senha.",
        ),
        "not_now" => ("Not now", "Agora não"),
        "step_up_title" => ("Confirm it is you", "Confirme que é você"),
        "step_up_text" => ("This application asks for a stronger sign-in. Use one more way to confirm it is you.", "Este aplicativo pede uma entrada mais forte. Use mais uma forma de confirmar que é você."),
        "totp_code" => ("Code from your authenticator app", "Código do seu aplicativo autenticador"),
        "verify" => ("Verify", "Verificar"),
        "email_me_code" => ("Email me a code", "Enviar um código por e-mail"),
        "code_title" => ("Enter your code", "Digite seu código"),
        "code_sent" => ("We sent a 6-digit code to your email address. It expires in 5 minutes.", "Enviamos um código de 6 dígitos para seu e-mail. Ele expira em 5 minutos."),
        "code_app" => ("Enter the 6-digit code from your authenticator app.", "Digite o código de 6 dígitos do seu aplicativo autenticador."),
        "code" => ("Code", "Código"),
        "code_wrong" => ("That code is not right. Try again.", "Esse código não está correto. Tente novamente."),
        "code_dead" => ("This code can no longer be used (it expired, was used, or was tried too often). Ask for a new one.", "Este código não pode mais ser usado (expirou, já foi usado ou teve tentativas demais). Peça um novo."),
        "code_not_sent" => ("The code could not be sent. Try again later.", "Não foi possível enviar o código. Tente novamente mais tarde."),
        "code_too_soon" => ("A code was sent a moment ago. Wait a little before asking for another.", "Um código acabou de ser enviado. Aguarde um pouco antes de pedir outro."),
        "send_new_code" => ("Send a new code", "Enviar um novo código"),
        "sign_in_with_code" => ("Sign in with a code", "Entrar com um código"),
        "code_email_subject" => ("Your sign-in code", "Seu código de acesso"),
        "code_email_text" => ("Your code is", "Seu código é"),
        "totp_title" => ("Authenticator app", "Aplicativo autenticador"),
        "totp_none" => ("No authenticator app is set up.", "Nenhum aplicativo autenticador configurado."),
        "totp_enrolled" => ("An authenticator app is set up.", "Um aplicativo autenticador está configurado."),
        "totp_setup" => ("Set up an authenticator app", "Configurar um aplicativo autenticador"),
        "totp_scan" => ("Scan this code with your authenticator app, or type the key, then enter the 6-digit code it shows.", "Leia este código com seu aplicativo autenticador, ou digite a chave, e então informe o código de 6 dígitos que ele mostrar."),
        "totp_key" => ("Key", "Chave"),
        "remove" => ("Remove", "Remover"),
        "logo" => ("Logo", "Logotipo"),
        "terms" => ("Terms of service", "Termos de uso"),
        "privacy" => ("Privacy policy", "Política de privacidade"),
        "continue_to" => ("to continue to", "para continuar em"),
        "app_privacy" => ("Privacy policy of {app}", "Política de privacidade de {app}"),
        "app_terms" => ("Terms of service of {app}", "Termos de uso de {app}"),
        "granted" => ("allowed on", "autorizado em"),
        "change_password" => ("Change password", "Alterar senha"),
        "current_password" => ("Current password", "Senha atual"),
        "new_password" => ("New password", "Nova senha"),
        "confirm_password" => ("Confirm the new password", "Confirme a nova senha"),
        "password_hint" => ("At least {n} characters.", "Pelo menos {n} caracteres."),
        "password_wrong" => ("The current password is not right.", "A senha atual não está correta."),
        "password_mismatch" => ("The two new passwords are not the same.", "As duas novas senhas não são iguais."),
        "password_changed" => ("Your password was changed. Your other sessions were ended.", "Sua senha foi alterada. Suas outras sessões foram encerradas."),
        "sign_out_everywhere" => ("Sign out everywhere", "Sair de todos os lugares"),
        "sign_out_everywhere_text" => (
            "Ends your sessions in every browser and device, and the applications' access to your account until you sign in to them again.",
            "Encerra suas sessões em todos os navegadores e dispositivos, e o acesso dos aplicativos à sua conta até que você entre neles novamente.",
        ),
        "create_account" => ("Create an account", "Criar uma conta"),
        "forgot_password" => ("Forgot your password?", "Esqueceu sua senha?"),
        "email" => ("Email address", "Endereço de e-mail"),
        "sign_up_text" => ("Your email address will be your username. We will send a code to it.", "Seu endereço de e-mail será seu nome de usuário. Enviaremos um código para ele."),
        "password_rule" => ("At least {n} characters, and not your email address.", "Pelo menos {n} caracteres, e não o seu endereço de e-mail."),
        "email_invalid" => ("Enter a valid email address.", "Informe um endereço de e-mail válido."),
        "password_too_short" => ("The password is too short: use at least {n} characters.", "A senha é curta demais: use pelo menos {n} caracteres."),
        "password_too_long" => ("The password is too long: use at most 1024 bytes.", "A senha é longa demais: use no máximo 1024 bytes."),
        "password_is_name" => ("The password cannot be your email address or username.", "A senha não pode ser seu endereço de e-mail ou nome de usuário."),
        "forgot_title" => ("Reset your password", "Redefinir sua senha"),
        "forgot_text" => ("Enter your username or email address. If an account exists, we will send a code to its email address.", "Informe seu usuário ou endereço de e-mail. Se existir uma conta, enviaremos um código para o e-mail dela."),
        "username_or_email" => ("Username or email address", "Usuário ou endereço de e-mail"),
        "enter_name" => ("Enter your username or email address.", "Informe seu usuário ou endereço de e-mail."),
        "send_code" => ("Send a code", "Enviar um código"),
        "reset_sent" => (
            "If an account exists for that name, we sent a 6-digit code to its email address. It expires in 5 minutes.",
            "Se existir uma conta com esse nome, enviamos um código de 6 dígitos para o e-mail dela. Ele expira em 5 minutos.",
        ),
        "set_password" => ("Set the password and sign in", "Definir a senha e entrar"),
        "code_email_subject_sign_up" => ("Your verification code", "Seu código de verificação"),
        "code_email_subject_reset" => ("Your password reset code", "Seu código para redefinir a senha"),
        _ => ("", ""),
    };
    match locale {
        Locale::En => en,
        Locale::PtBr => pt,
    }
}

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

// Branding (`web::brand`) sets the variables; without it the defaults below are the look.
const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;background:var(--background,#f4f5f7);color:#1f2328;margin:0}\
main{max-width:26rem;margin:4rem auto;background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:2rem}\
h1{font-size:1.4rem;margin-top:0}label{display:block;margin:1rem 0 .3rem;font-weight:600}\
input[type=text],input[type=password],input[type=email]{width:100%;box-sizing:border-box;padding:.6rem;border:1px solid #8c959f;border-radius:6px;font-size:1rem}\
input:focus,button:focus,a:focus{outline:3px solid var(--focus,#0969da);outline-offset:2px}\
button{margin-top:1.2rem;padding:.6rem 1.2rem;font-size:1rem;border-radius:6px;border:1px solid var(--primary,#1f6feb);background:var(--primary,#1f6feb);color:var(--on-primary,#fff);cursor:pointer}\
button.secondary{background:#fff;color:#1f2328;border-color:#8c959f}\
.error{color:#a40e26;background:#ffebe9;border:1px solid #ff8182;padding:.6rem;border-radius:6px}\
ul{padding-left:1.2rem}.error-text{color:#a40e26}[hidden]{display:none}.scope{font-family:ui-monospace,monospace;font-size:.9em;color:#57606a}\
a{color:#0969da}.brand{display:flex;align-items:center;gap:.6rem;margin-bottom:1.2rem}.brand-logo{max-height:2.5rem;max-width:10rem}.brand-name{font-weight:600}\
.brand-links,.app-links{margin-top:1.5rem;font-size:.9rem;color:#57606a}.app{display:flex;align-items:center;gap:.6rem}.app-logo{max-height:2rem;max-width:6rem}";

fn document(locale: Locale, title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title><style>{}</style></head><body><main>{}</main></body></html>",
        locale.tag(),
        escape(title),
        STYLE,
        body
    )
}

/// The passkey script's URL: the one script a page may load (its CSP names that URL alone, and
/// lets the script call this origin for options).
pub fn with_script(resp: Response, script: &str) -> Response {
    let body = String::from_utf8(resp.body.clone()).unwrap_or_default().replacen("</head>", &format!("<script src=\"{}\" defer></script></head>", escape(script)), 1);
    allow_source(allow_source(resp.with_body(body.into_bytes()), "script-src", script), "connect-src", "'self'")
}

/// The page's CSP with `source` added to `directive` (the directive added when absent). The one
/// way a page's CSP widens: callers pass our own URLs, or [`allow_image`]'s origins.
pub fn allow_source(resp: Response, directive: &str, source: &str) -> Response {
    let csp = resp.header("content-security-policy").unwrap_or("default-src 'none'").to_string();
    let mut parts: Vec<String> = csp.split(';').map(|d| d.trim().to_string()).filter(|d| !d.is_empty()).collect();
    match parts.iter_mut().find(|d| d.split_whitespace().next() == Some(directive)) {
        Some(d) if d.split_whitespace().any(|s| s == source) => {}
        Some(d) => *d = format!("{d} {source}"),
        None => parts.insert(1.min(parts.len()), format!("{directive} {source}")),
    }
    resp.replace_header("content-security-policy", parts.join("; "))
}

/// The page may show an image from `url`: its origin only (a URL's path may hold `;` or spaces,
/// which are CSP syntax). URLs here were checked on save (https, or loopback http).
pub fn allow_image(resp: Response, url: &str) -> Response {
    match url::Url::parse(url).map(|u| u.origin()) {
        Ok(o @ url::Origin::Tuple(..)) => allow_source(resp, "img-src", &o.ascii_serialization()),
        _ => resp,
    }
}

/// The application asking, as its metadata describes it (RFC 7591 §2: `client_name`, `logo_uri`,
/// `client_uri`, `policy_uri`, `tos_uri`). Its URIs were checked on save (https), never taken
/// from the request.
#[derive(Default)]
pub struct AppView<'a> {
    pub name: &'a str,
    pub logo_uri: Option<&'a str>,
    pub client_uri: Option<&'a str>,
    pub policy_uri: Option<&'a str>,
    pub tos_uri: Option<&'a str>,
}

impl<'a> AppView<'a> {
    pub fn of(c: &'a crate::config::client::Client) -> AppView<'a> {
        AppView {
            name: if c.client_name.is_empty() { &c.client_id } else { &c.client_name },
            logo_uri: c.logo_uri.as_deref(),
            client_uri: c.client_uri.as_deref(),
            policy_uri: c.policy_uri.as_deref(),
            tos_uri: c.tos_uri.as_deref(),
        }
    }

    /// The application's logo and a sentence around its name (a link to its site where it has one).
    fn block(&self, sentence: impl FnOnce(&str) -> String) -> String {
        let logo = self.logo_uri.map(|l| format!("<img class=\"app-logo\" src=\"{}\" alt=\"\">", escape(l))).unwrap_or_default();
        let name = match self.client_uri {
            Some(u) => format!("<strong class=\"app-name\"><a href=\"{}\">{}</a></strong>", escape(u), escape(self.name)),
            None => format!("<strong class=\"app-name\">{}</strong>", escape(self.name)),
        };
        format!("<div class=\"app\">{logo}<p>{}</p></div>", sentence(&name))
    }

    /// The application's own policy and terms, named as its.
    fn links(&self, locale: Locale) -> String {
        let links: Vec<String> = [(self.policy_uri, "app_privacy"), (self.tos_uri, "app_terms")]
            .into_iter()
            .filter_map(|(u, k)| u.map(|u| format!("<a href=\"{}\">{}</a>", escape(u), text(locale, k).replace("{app}", &escape(self.name)))))
            .collect();
        if links.is_empty() {
            String::new()
        } else {
            format!("<p class=\"app-links\">{}</p>", links.join(" · "))
        }
    }

    /// The page, allowed to show the application's logo.
    fn allow_logo(&self, resp: Response) -> Response {
        match self.logo_uri {
            Some(l) => allow_image(resp, l),
            None => resp,
        }
    }
}

/// Where a page's passkey form gets its options (a fetch) and posts the credential.
pub struct PasskeyForm<'a> {
    pub options: &'a str,
    pub action: &'a str,
}

/// A passkey form: hidden until the script shows it (no script, no WebAuthn: nothing to see).
fn passkey_form(kind: &str, f: &PasskeyForm<'_>, interaction: &str, inner: &str) -> String {
    format!(
        "<form method=\"post\" action=\"{}\" data-passkey=\"{kind}\" data-options=\"{}\" hidden><input type=\"hidden\" name=\"interaction\" value=\"{}\"><input type=\"hidden\" name=\"state\"><input type=\"hidden\" name=\"credential\">{inner}<p class=\"passkey-error error-text\" role=\"alert\"></p></form>",
        escape(f.action),
        escape(f.options),
        escape(interaction)
    )
}

/// The sign-in page's ways out to self-service (each a button posting the page's interaction).
#[derive(Default)]
pub struct SelfServiceLinks<'a> {
    pub sign_up: Option<&'a str>,
    pub forgot_password: Option<&'a str>,
}

/// A form's error about one field: the field is marked invalid and described by the message.
pub struct FieldError<'a> {
    pub field: &'a str,
    pub message: &'a str,
}

fn field_error_html(error: Option<&FieldError<'_>>) -> String {
    error.map(|e| format!("<p class=\"error\" role=\"alert\" id=\"form-error\">{}</p>", escape(e.message))).unwrap_or_default()
}

fn invalid_if(error: Option<&FieldError<'_>>, field: &str) -> &'static str {
    if error.is_some_and(|e| e.field == field) {
        " aria-invalid=\"true\" aria-describedby=\"form-error\""
    } else {
        ""
    }
}

/// An identity provider as the sign-in page offers it: its id (the button's value) and name.
pub struct ProviderChoice<'a> {
    pub id: &'a str,
    pub name: &'a str,
}

/// The sign-in page: one button per identity provider (a form post to `providers_action`, so
/// no JavaScript is needed), then the password form when the workspace has one.
#[allow(clippy::too_many_arguments)]
pub fn login(
    locale: Locale,
    app: Option<&AppView<'_>>,
    action: &str,
    interaction: &str,
    login_hint: Option<&str>,
    error: Option<&str>,
    providers: &[ProviderChoice<'_>],
    providers_action: &str,
    password: bool,
    passkeys: Option<&PasskeyForm<'_>>,
    code_action: Option<&str>,
    links: &SelfServiceLinks<'_>,
) -> Response {
    let t = |k| text(locale, k);
    let has_error = error.is_some();
    let error = error.map(|e| format!("<p class=\"error\" role=\"alert\" id=\"login-error\">{}</p>", escape(e))).unwrap_or_default();
    let buttons = if providers.is_empty() {
        String::new()
    } else {
        let items: String = providers
            .iter()
            .map(|p| format!("<li><button type=\"submit\" name=\"idp\" value=\"{}\" class=\"secondary\">{} {}</button></li>", escape(p.id), t("sign_in_with"), escape(p.name)))
            .collect();
        let or = if password { format!("<p class=\"or\">{}</p>", t("or")) } else { String::new() };
        format!(
            "<form method=\"post\" action=\"{}\" class=\"providers\"><input type=\"hidden\" name=\"interaction\" value=\"{}\"><ul>{items}</ul></form>{or}",
            escape(providers_action),
            escape(interaction)
        )
    };
    let form = if password {
        format!(
            "<form method=\"post\" action=\"{action}\"><input type=\"hidden\" name=\"interaction\" value=\"{interaction}\">\
<label for=\"username\">{user}</label><input type=\"text\" id=\"username\" name=\"username\" autocomplete=\"{autocomplete}\" required value=\"{hint}\"{invalid}{focus_user}>\
<label for=\"password\">{pass}</label><input type=\"password\" id=\"password\" name=\"password\" autocomplete=\"current-password\" required{invalid}{focus_pass}>\
<button type=\"submit\">{title}</button></form>",
            title = t("sign_in"),
            action = escape(action),
            interaction = escape(interaction),
            user = t("username"),
            pass = t("password"),
            hint = escape(login_hint.unwrap_or("")),
            // Conditional UI: the browser offers passkeys in the username field's autofill.
            autocomplete = if passkeys.is_some() { "username webauthn" } else { "username" },
            // After a failure both fields name the error for screen readers; the cursor goes to
            // the password when the name is already there.
            invalid = if has_error { " aria-invalid=\"true\" aria-describedby=\"login-error\"" } else { "" },
            focus_user = if login_hint.is_some_and(|h| !h.is_empty()) { "" } else { " autofocus" },
            focus_pass = if login_hint.is_some_and(|h| !h.is_empty()) { " autofocus" } else { "" },
        )
    } else {
        String::new()
    };
    let passkey = passkeys
        .map(|f| passkey_form("sign-in", f, interaction, &format!("<button type=\"button\" class=\"secondary\" id=\"passkey-sign-in\">{}</button>", t("passkey_sign_in"))))
        .unwrap_or_default();
    // A code instead of a password: the name first, the code on the next page.
    let code = code_action
        .map(|a| {
            format!(
                "<form method=\"post\" action=\"{}\" id=\"code-sign-in\"><input type=\"hidden\" name=\"interaction\" value=\"{}\"><label for=\"code-username\">{}</label><input type=\"text\" id=\"code-username\" name=\"username\" autocomplete=\"username\" required value=\"{}\"><button type=\"submit\" class=\"secondary\">{}</button></form>",
                escape(a),
                escape(interaction),
                t("username"),
                escape(login_hint.unwrap_or("")),
                t("sign_in_with_code")
            )
        })
        .unwrap_or_default();
    let link = |id: &str, a: Option<&str>, label: &str| {
        a.map(|a| format!("<form method=\"post\" action=\"{}\" id=\"{id}\"><input type=\"hidden\" name=\"interaction\" value=\"{}\"><button type=\"submit\" class=\"secondary\">{label}</button></form>", escape(a), escape(interaction)))
            .unwrap_or_default()
    };
    let forgot = link("forgot-password-form", links.forgot_password, t("forgot_password"));
    let sign_up = link("sign-up-form", links.sign_up, t("create_account"));
    let (app_block, app_links) = app.map(|a| (a.block(|name| format!("{} {name}", t("continue_to"))), a.links(locale))).unwrap_or_default();
    let body = format!("<h1>{}</h1>{app_block}{error}{buttons}{passkey}{form}{forgot}{code}{sign_up}{app_links}", t("sign_in"));
    let page = Response::html(200, document(locale, t("sign_in"), &body));
    match app {
        Some(a) => a.allow_logo(page),
        None => page,
    }
}

/// Self-service sign-up: an email address (the username to be) and a password. After an error
/// the address comes back as typed; the password never does.
pub fn sign_up(locale: Locale, action: &str, interaction: &str, email: &str, min_chars: u32, error: Option<&FieldError<'_>>) -> Response {
    let t = |k| text(locale, k);
    let body = format!(
        "<h1>{title}</h1>{err}<p>{intro}</p><form method=\"post\" action=\"{action}\" id=\"sign-up\"><input type=\"hidden\" name=\"interaction\" value=\"{i}\">\
<label for=\"email\">{email_t}</label><input type=\"email\" id=\"email\" name=\"email\" autocomplete=\"email\" maxlength=\"254\" required value=\"{email}\"{inv_email}{focus_email}>\
<label for=\"password\">{pass_t}</label><input type=\"password\" id=\"password\" name=\"password\" autocomplete=\"new-password\" minlength=\"{min}\" required{pass_described}{focus_pass}>\
<p class=\"scope\" id=\"password-rule\">{rule}</p><button type=\"submit\">{title}</button></form>",
        title = t("create_account"),
        err = field_error_html(error),
        intro = t("sign_up_text"),
        action = escape(action),
        i = escape(interaction),
        email_t = t("email"),
        email = escape(email),
        pass_t = t("password"),
        min = min_chars,
        rule = t("password_rule").replace("{n}", &min_chars.to_string()),
        inv_email = invalid_if(error, "email"),
        // the field is described by its rule, and by the error when the error is about it
        pass_described = if error.is_some_and(|e| e.field == "password") { " aria-invalid=\"true\" aria-describedby=\"form-error password-rule\"" } else { " aria-describedby=\"password-rule\"" },
        focus_email = if error.is_some_and(|e| e.field == "password") { "" } else { " autofocus" },
        focus_pass = if error.is_some_and(|e| e.field == "password") { " autofocus" } else { "" },
    );
    Response::html(200, document(locale, t("create_account"), &body))
}

/// "Forgot your password?": the name of the account.
pub fn forgot_password(locale: Locale, action: &str, interaction: &str, name: &str, error: Option<&FieldError<'_>>) -> Response {
    let t = |k| text(locale, k);
    let body = format!(
        "<h1>{title}</h1>{err}<p>{intro}</p><form method=\"post\" action=\"{action}\" id=\"forgot-password\"><input type=\"hidden\" name=\"interaction\" value=\"{i}\">\
<label for=\"username\">{name_t}</label><input type=\"text\" id=\"username\" name=\"username\" autocomplete=\"username\" maxlength=\"256\" required autofocus value=\"{name}\"{inv}>\
<button type=\"submit\">{send}</button></form>",
        title = t("forgot_title"),
        err = field_error_html(error),
        intro = t("forgot_text"),
        action = escape(action),
        i = escape(interaction),
        name_t = t("username_or_email"),
        name = escape(name),
        inv = invalid_if(error, "username"),
        send = t("send_code"),
    );
    Response::html(200, document(locale, t("forgot_title"), &body))
}

/// The forgotten password's second page: the emailed code and the new password, alike whether an
/// account was found or not.
pub fn reset_password(locale: Locale, action: &str, interaction: &str, min_chars: u32, error: Option<&FieldError<'_>>) -> Response {
    let t = |k| text(locale, k);
    let body = format!(
        "<h1>{title}</h1>{err}<p>{intro}</p><form method=\"post\" action=\"{action}\" id=\"reset-password\"><input type=\"hidden\" name=\"interaction\" value=\"{i}\">\
<label for=\"code\">{code_t}</label><input type=\"text\" id=\"code\" name=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\" pattern=\"[0-9 ]*\" maxlength=\"8\" required{inv_code}{focus_code}>\
<label for=\"password\">{pass_t}</label><input type=\"password\" id=\"password\" name=\"password\" autocomplete=\"new-password\" minlength=\"{min}\" required{inv_pass}{focus_pass}>\
<p class=\"scope\">{rule}</p><button type=\"submit\">{submit}</button></form>",
        title = t("forgot_title"),
        err = field_error_html(error),
        intro = t("reset_sent"),
        action = escape(action),
        i = escape(interaction),
        code_t = t("code"),
        pass_t = t("new_password"),
        min = min_chars,
        rule = t("password_rule").replace("{n}", &min_chars.to_string()),
        inv_code = invalid_if(error, "code"),
        inv_pass = invalid_if(error, "password"),
        focus_code = if error.is_some_and(|e| e.field == "password") { "" } else { " autofocus" },
        focus_pass = if error.is_some_and(|e| e.field == "password") { " autofocus" } else { "" },
        submit = t("set_password"),
    );
    Response::html(200, document(locale, t("forgot_title"), &body))
}

/// Right after a password sign-in: add a passkey (the script's form) or go on without.
pub fn passkey_offer(locale: Locale, continue_action: &str, interaction: &str, register: &PasskeyForm<'_>) -> Response {
    let t = |k| text(locale, k);
    let add = passkey_form(
        "register",
        register,
        interaction,
        &format!("<label for=\"passkey-name\">{}</label><input type=\"text\" id=\"passkey-name\" name=\"name\" maxlength=\"64\"><button type=\"submit\">{}</button>", t("passkey_name"), t("add_passkey")),
    );
    let body = format!(
        "<h1>{title}</h1><p>{text}</p>{add}<form method=\"post\" action=\"{action}\"><input type=\"hidden\" name=\"interaction\" value=\"{i}\"><button type=\"submit\" class=\"secondary\" id=\"passkey-not-now\">{not_now}</button></form>",
        title = t("passkey_offer_title"),
        text = t("passkey_offer_text"),
        action = escape(continue_action),
        i = escape(interaction),
        not_now = t("not_now"),
    );
    Response::html(200, document(locale, t("passkey_offer_title"), &body))
}

/// The step-up page: the ways the user has to add a factor (a form each; the passkey's needs the
/// script, and names the user so the browser asks for this user's passkeys).
pub fn step_up(locale: Locale, level: &str, interaction: &str, totp_action: Option<&str>, email_action: Option<&str>, passkey: Option<(&PasskeyForm<'_>, &str, &str)>) -> Response {
    let t = |k| text(locale, k);
    let totp = totp_action
        .map(|a| {
            format!(
                "<form method=\"post\" action=\"{}\" id=\"totp-form\"><input type=\"hidden\" name=\"interaction\" value=\"{}\"><label for=\"totp-code\">{}</label><input type=\"text\" id=\"totp-code\" name=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\" pattern=\"[0-9 ]*\" maxlength=\"8\" required autofocus><button type=\"submit\">{}</button></form>",
                escape(a),
                escape(interaction),
                t("totp_code"),
                t("verify")
            )
        })
        .unwrap_or_default();
    let email = email_action
        .map(|a| format!("<form method=\"post\" action=\"{}\" id=\"email-code-form\"><input type=\"hidden\" name=\"interaction\" value=\"{}\"><button type=\"submit\" class=\"secondary\">{}</button></form>", escape(a), escape(interaction), t("email_me_code")))
        .unwrap_or_default();
    let passkey = passkey
        .map(|(f, login_interaction, username)| {
            let inner = format!("<input type=\"hidden\" id=\"username\" value=\"{}\"><button type=\"button\" class=\"secondary\" id=\"passkey-sign-in\">{}</button>", escape(username), t("passkey_sign_in"));
            passkey_form("sign-in", f, login_interaction, &inner)
        })
        .unwrap_or_default();
    let body = format!("<h1>{}</h1><p>{}</p><p class=\"scope\">{}</p>{totp}{email}{passkey}", t("step_up_title"), t("step_up_text"), escape(level));
    Response::html(200, document(locale, t("step_up_title"), &body))
}

/// The page that asks for a one-time code (emailed, or the authenticator app's).
pub fn code(locale: Locale, action: &str, interaction: &str, emailed: bool, error: Option<&str>, resend_action: Option<&str>) -> Response {
    let t = |k| text(locale, k);
    let error = error.map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(e))).unwrap_or_default();
    let body = format!(
        "<h1>{title}</h1>{error}<p>{intro}</p><form method=\"post\" action=\"{action}\" id=\"code-form\"><input type=\"hidden\" name=\"interaction\" value=\"{i}\"><label for=\"code\">{code}</label><input type=\"text\" id=\"code\" name=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\" pattern=\"[0-9 ]*\" maxlength=\"8\" required autofocus><button type=\"submit\">{verify}</button></form>",
        title = t("code_title"),
        intro = t(if emailed { "code_sent" } else { "code_app" }),
        action = escape(action),
        i = escape(interaction),
        code = t("code"),
        verify = t("verify"),
    );
    let resend = resend_action
        .map(|a| format!("<form method=\"post\" action=\"{}\" id=\"email-code-form\"><input type=\"hidden\" name=\"interaction\" value=\"{}\"><button type=\"submit\" class=\"secondary\">{}</button></form>", escape(a), escape(interaction), t("send_new_code")))
        .unwrap_or_default();
    Response::html(200, document(locale, t("code_title"), &format!("{body}{resend}")))
}

/// The account page's authenticator app being set up: the key as text and as a QR code (drawn
/// here as SVG), and the form that confirms it with a first code.
pub fn totp_setup(locale: Locale, action: &str, interaction: &str, key: &str, qr_svg: &str, error: Option<&str>) -> Response {
    let t = |k| text(locale, k);
    let error = error.map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(e))).unwrap_or_default();
    let body = format!(
        "<h1>{title}</h1>{error}<p>{scan}</p><div class=\"qr\">{qr_svg}</div><p>{key_t}: <code id=\"totp-secret\">{key}</code></p><form method=\"post\" action=\"{action}\" id=\"totp-confirm\"><input type=\"hidden\" name=\"interaction\" value=\"{i}\"><label for=\"code\">{code}</label><input type=\"text\" id=\"code\" name=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\" maxlength=\"8\" required autofocus><button type=\"submit\">{verify}</button></form>",
        title = t("totp_setup"),
        scan = t("totp_scan"),
        key_t = t("totp_key"),
        key = escape(key),
        action = escape(action),
        i = escape(interaction),
        code = t("code"),
        verify = t("verify"),
    );
    Response::html(200, document(locale, t("totp_setup"), &body))
}

/// A user provisioned pending (manual just-in-time provisioning) tried to sign in.
pub fn pending_activation(locale: Locale) -> Response {
    let body = format!("<h1>{}</h1><p role=\"alert\">{}</p>", text(locale, "pending_title"), text(locale, "pending_text"));
    Response::html(403, document(locale, text(locale, "pending_title"), &body))
}

/// A post-authentication extension refused the sign-in: why, and the way back to the
/// application (the link carries its `access_denied`).
pub fn extension_denied(locale: Locale, reason: &str, back: &str) -> Response {
    let title = text(locale, "extension_denied_title");
    let body = format!("<h1>{title}</h1><p class=\"error\" role=\"alert\">{}</p><p><a href=\"{}\">{}</a></p>", escape(reason), escape(back), text(locale, "back_to_app"));
    Response::html(403, document(locale, title, &body))
}

/// One authorization detail on the consent page: its type's title, a summary line of its values,
/// and the full JSON, in a `<details>` disclosure (no script needed).
pub struct DetailView<'a> {
    pub title: &'a str,
    pub summary: &'a str,
    pub json: &'a str,
}

/// Scopes as list items: each one's description (in words) with its name, or the name alone when
/// it has no description. The consent page and the account page show them alike.
fn scope_items(scopes: &[(String, String)]) -> String {
    scopes
        .iter()
        .map(|(s, d)| if d.is_empty() { format!("<li><span class=\"scope\">{}</span></li>", escape(s)) } else { format!("<li>{} <span class=\"scope\">({})</span></li>", escape(d), escape(s)) })
        .collect()
}

/// A date as the account page shows it (YYYY-MM-DD, UTC).
fn day(ts: i64) -> String {
    crate::time::format_rfc3339(ts).chars().take(10).collect()
}

pub fn consent(locale: Locale, action: &str, interaction: &str, app: &AppView<'_>, scopes: &[(String, String)], details: &[DetailView<'_>]) -> Response {
    let t = |k| text(locale, k);
    let mut items = scope_items(scopes);
    for d in details {
        items.push_str(&format!(
            "<li class=\"authorization-detail\"><strong>{}</strong>: {}<details><summary>{}</summary><pre>{}</pre></details></li>",
            escape(d.title),
            escape(d.summary),
            t("details_json"),
            escape(d.json)
        ));
    }
    let body = format!(
        "<h1>{title}</h1>{app}<ul>{items}</ul>\
<form method=\"post\" action=\"{action}\"><input type=\"hidden\" name=\"interaction\" value=\"{interaction}\">\
<button type=\"submit\" name=\"decision\" value=\"allow\">{allow}</button> <button type=\"submit\" name=\"decision\" value=\"deny\" class=\"secondary\">{deny}</button></form>{links}",
        title = t("consent_title"),
        app = app.block(|name| format!("{name} {}", t("consent_intro"))),
        links = app.links(locale),
        action = escape(action),
        interaction = escape(interaction),
        allow = t("allow"),
        deny = t("deny"),
    );
    app.allow_logo(Response::html(200, document(locale, t("consent_title"), &body)))
}

pub fn error_page(locale: Locale, status: u16, code: &str, description: &str) -> Response {
    let body = format!("<h1>{}</h1><p class=\"error\" role=\"alert\"><code>{}</code>: {}</p>", text(locale, "error_title"), escape(code), escape(description));
    Response::html(status, document(locale, text(locale, "error_title"), &body))
}

/// OAuth 2.0 Form Post Response Mode: an auto-submitting form (with a button for no-JS browsers).
pub fn form_post(action: &str, fields: &[(&str, String)]) -> Response {
    let inputs: String = fields.iter().map(|(k, v)| format!("<input type=\"hidden\" name=\"{}\" value=\"{}\">", escape(k), escape(v))).collect();
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Submit</title></head><body onload=\"document.forms[0].submit()\"><form method=\"post\" action=\"{}\">{}<noscript><button type=\"submit\">Continue</button></noscript></form></body></html>",
        escape(action),
        inputs
    );
    // The only page with a script: the inline onload that submits the form.
    Response::html(200, html).replace_header("content-security-policy", "default-src 'none'; script-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'")
}

pub fn logout_confirm(locale: Locale, action: &str, interaction: &str) -> Response {
    let t = |k| text(locale, k);
    let body = format!(
        "<h1>{title}</h1><p>{q}</p><form method=\"post\" action=\"{action}\" id=\"logout-confirm\"><input type=\"hidden\" name=\"interaction\" value=\"{interaction}\"><button type=\"submit\" name=\"confirm\" value=\"yes\">{out}</button></form>",
        title = t("logout_title"),
        q = t("logout_question"),
        action = escape(action),
        interaction = escape(interaction),
        out = t("sign_out"),
    );
    Response::html(200, document(locale, t("logout_title"), &body))
}

/// A passkey as the account page lists it.
pub struct PasskeyItem<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

pub struct AccountPasskeys<'a> {
    pub list: Vec<PasskeyItem<'a>>,
    pub register: PasskeyForm<'a>,
    pub rename_action: &'a str,
    pub delete_action: &'a str,
}

/// The account page's authenticator app: set up or not, and the form that changes that.
pub struct AccountTotp<'a> {
    pub enrolled: bool,
    pub setup_action: &'a str,
    pub delete_action: &'a str,
}

/// An application the user allowed: its name (its client_id when it has none), what it may do
/// (scope, description), and when it was allowed.
pub struct AccountConsent<'a> {
    pub client_id: &'a str,
    pub name: &'a str,
    pub scopes: Vec<(String, String)>,
    pub granted_at: i64,
}

/// Which field of the password form an error belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordField {
    Current,
    New,
    Confirm,
}

impl PasswordField {
    fn id(self) -> &'static str {
        match self {
            PasswordField::Current => "current-password",
            PasswordField::New => "new-password",
            PasswordField::Confirm => "confirm-password",
        }
    }
}

/// The change-password form (for users with a password): where it posts, the minimum length, and
/// the error of the last attempt, tied to its field.
pub struct PasswordChange<'a> {
    pub action: &'a str,
    pub min_length: usize,
    pub error: Option<(PasswordField, String)>,
}

pub struct AccountView<'a> {
    pub passkeys: Option<AccountPasskeys<'a>>,
    pub totp: Option<AccountTotp<'a>>,
    /// The heading: the user's name (see `oidc::account::display_name`).
    pub name: &'a str,
    pub username: &'a str,
    pub consents: &'a [AccountConsent<'a>],
    pub withdraw_action: &'a str,
    pub logout_action: &'a str,
    pub password: Option<PasswordChange<'a>>,
    pub sign_out_everywhere_action: &'a str,
    /// A status line at the top (the last action's outcome).
    pub notice: Option<&'a str>,
    pub interaction: &'a str,
}

pub fn account(locale: Locale, view: Option<AccountView<'_>>) -> Response {
    let t = |k| text(locale, k);
    let body = match view {
        None => format!("<h1>{}</h1><p role=\"status\">{}</p>", t("account_title"), t("signed_out")),
        Some(v) => {
            let hidden = format!("<input type=\"hidden\" name=\"interaction\" value=\"{}\">", escape(v.interaction));
            let list = if v.consents.is_empty() {
                format!("<p>{}</p>", t("no_applications"))
            } else {
                let items: String = v
                    .consents
                    .iter()
                    .map(|c| {
                        format!(
                            "<li class=\"application\"><strong>{name}</strong> <span class=\"scope\">{granted} {day}</span><ul>{scopes}</ul><form method=\"post\" action=\"{a}\">{hidden}<input type=\"hidden\" name=\"client_id\" value=\"{id}\"><button type=\"submit\" class=\"secondary\" aria-label=\"{w}: {name}\">{w}</button></form></li>",
                            name = escape(c.name),
                            granted = t("granted"),
                            day = day(c.granted_at),
                            scopes = scope_items(&c.scopes),
                            a = escape(v.withdraw_action),
                            id = escape(c.client_id),
                            w = t("withdraw"),
                        )
                    })
                    .collect();
                format!("<ul class=\"applications\">{items}</ul>")
            };
            let passkeys = v.passkeys.as_ref().map(|p| account_passkeys(locale, p, v.interaction)).unwrap_or_default();
            let totp = v.totp.as_ref().map(|a| account_totp(locale, a, v.interaction)).unwrap_or_default();
            let password = v.password.as_ref().map(|p| account_password(locale, p, &hidden)).unwrap_or_default();
            let notice = v.notice.map(|n| format!("<p class=\"notice\" role=\"status\">{}</p>", escape(n))).unwrap_or_default();
            format!(
                "<h1>{name}</h1><p class=\"username\">{as_} <strong>{user}</strong></p>{notice}<h2>{apps}</h2>{list}{passkeys}{totp}{password}\
<h2>{everywhere}</h2><p>{everywhere_text}</p><form method=\"post\" action=\"{everywhere_action}\" id=\"sign-out-everywhere\">{hidden}<button type=\"submit\" class=\"secondary\">{everywhere}</button></form>\
<form method=\"get\" action=\"{logout}\" id=\"sign-out\"><button type=\"submit\" class=\"secondary\">{out}</button></form>",
                name = escape(v.name),
                as_ = t("signed_in_as"),
                user = escape(v.username),
                apps = t("applications"),
                everywhere = t("sign_out_everywhere"),
                everywhere_text = t("sign_out_everywhere_text"),
                everywhere_action = escape(v.sign_out_everywhere_action),
                logout = escape(v.logout_action),
                out = t("sign_out"),
            )
        }
    };
    Response::html(200, document(locale, t("account_title"), &body))
}

/// The change-password form. An error names its field (`aria-invalid`, `aria-describedby`); no
/// field is ever filled in again (a password is never echoed).
fn account_password(locale: Locale, p: &PasswordChange<'_>, hidden: &str) -> String {
    let t = |k| text(locale, k);
    let hint = t("password_hint").replace("{n}", &p.min_length.to_string());
    let field = |f: PasswordField, label: &str, name: &str, autocomplete: &str, extra: &str, described: Option<&str>| {
        let id = f.id();
        let (invalid, error) = match &p.error {
            Some((ef, msg)) if *ef == f => (" aria-invalid=\"true\"", format!("<p class=\"error-text\" id=\"{id}-error\">{}</p>", escape(msg))),
            _ => ("", String::new()),
        };
        let mut describedby: Vec<String> = described.map(str::to_string).into_iter().collect();
        if !error.is_empty() {
            describedby.insert(0, format!("{id}-error"));
        }
        let describedby = if describedby.is_empty() { String::new() } else { format!(" aria-describedby=\"{}\"", describedby.join(" ")) };
        let autofocus = if p.error.as_ref().is_some_and(|(ef, _)| *ef == f) { " autofocus" } else { "" };
        format!("<label for=\"{id}\">{label}</label><input type=\"password\" id=\"{id}\" name=\"{name}\" autocomplete=\"{autocomplete}\" required{extra}{invalid}{describedby}{autofocus}>{error}")
    };
    format!(
        "<h2>{title}</h2><form method=\"post\" action=\"{action}\" id=\"change-password\">{hidden}{current}{new}<p class=\"hint\" id=\"new-password-hint\">{hint}</p>{confirm}<button type=\"submit\">{title}</button></form>",
        title = t("change_password"),
        action = escape(p.action),
        current = field(PasswordField::Current, t("current_password"), "current_password", "current-password", "", None),
        new = field(PasswordField::New, t("new_password"), "new_password", "new-password", &format!(" minlength=\"{}\"", p.min_length), Some("new-password-hint")),
        confirm = field(PasswordField::Confirm, t("confirm_password"), "confirm_password", "new-password", "", None),
        hint = escape(&hint),
    )
}

fn account_totp(locale: Locale, a: &AccountTotp<'_>, interaction: &str) -> String {
    let t = |k| text(locale, k);
    let hidden = format!("<input type=\"hidden\" name=\"interaction\" value=\"{}\">", escape(interaction));
    let body = if a.enrolled {
        format!("<p id=\"totp-enrolled\">{}</p><form method=\"post\" action=\"{}\" id=\"totp-delete\">{hidden}<button type=\"submit\" class=\"secondary\">{}</button></form>", t("totp_enrolled"), escape(a.delete_action), t("remove"))
    } else {
        format!("<p>{}</p><form method=\"post\" action=\"{}\" id=\"totp-setup\">{hidden}<button type=\"submit\">{}</button></form>", t("totp_none"), escape(a.setup_action), t("totp_setup"))
    };
    format!("<h2>{}</h2>{body}", t("totp_title"))
}

fn account_passkeys(locale: Locale, p: &AccountPasskeys<'_>, interaction: &str) -> String {
    let t = |k| text(locale, k);
    let hidden = |id: &str| format!("<input type=\"hidden\" name=\"interaction\" value=\"{}\"><input type=\"hidden\" name=\"credential_id\" value=\"{}\">", escape(interaction), escape(id));
    let items: String = p
        .list
        .iter()
        .enumerate()
        .map(|(n, k)| {
            let used = k.last_used_at.map_or_else(|| t("never_used").to_string(), |u| format!("{} {}", t("last_used"), day(u)));
            format!(
                "<li class=\"passkey\"><strong>{name}</strong> <span class=\"scope\">{added} {created}, {used}</span>\
<form method=\"post\" action=\"{rename}\">{h}<label for=\"passkey-rename-{n}\">{new_name}</label><input type=\"text\" id=\"passkey-rename-{n}\" name=\"name\" maxlength=\"64\" required><button type=\"submit\" class=\"secondary\">{rename_t}</button></form>\
<form method=\"post\" action=\"{delete}\">{h}<button type=\"submit\" class=\"secondary\">{delete_t}</button></form></li>",
                name = escape(k.name),
                added = t("added"),
                created = day(k.created_at),
                rename = escape(p.rename_action),
                delete = escape(p.delete_action),
                h = hidden(k.id),
                new_name = t("new_name"),
                rename_t = t("rename"),
                delete_t = t("delete"),
            )
        })
        .collect();
    let list = if p.list.is_empty() { format!("<p>{}</p>", t("no_passkeys")) } else { format!("<ul class=\"passkeys\">{items}</ul>") };
    let add = passkey_form(
        "register",
        &p.register,
        interaction,
        &format!("<label for=\"passkey-name\">{}</label><input type=\"text\" id=\"passkey-name\" name=\"name\" maxlength=\"64\"><button type=\"submit\">{}</button>", t("passkey_name"), t("add_passkey")),
    );
    format!("<h2>{}</h2>{list}{add}", t("passkeys"))
}

impl crate::error::Error {
    /// The HTML rendering, for the browser-facing steps.
    pub fn into_page(self, locale: Locale) -> Response {
        error_page(locale, self.status, self.code, &self.description).with_retry_after(&self).with_failure(&self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_shown_as_a_page_keeps_its_retry_after() {
        let r = crate::error::Error::temporarily_locked(30, "locked").into_page(Locale::En);
        assert_eq!((r.status, r.header("retry-after")), (429, Some("30")));
    }

    #[test]
    fn negotiates_locales() {
        assert_eq!(Locale::negotiate(Some("fr pt-BR"), Some("en"), "en"), Locale::PtBr);
        assert_eq!(Locale::negotiate(None, Some("pt-PT,pt;q=0.9,en;q=0.8"), "en"), Locale::PtBr);
        assert_eq!(Locale::negotiate(None, Some("de"), "pt-BR"), Locale::PtBr);
        assert_eq!(Locale::negotiate(None, None, "en"), Locale::En);
    }

    #[test]
    fn escapes_everything_interpolated() {
        let evil = [ProviderChoice { id: "corp", name: "<img src=x onerror=alert(1)>" }];
        let r = login(Locale::En, None, "/t/w/login", "x", Some("\"><script>alert(1)</script>"), Some("<b>"), &evil, "/t/w/idp/start", true, None, None, &SelfServiceLinks::default());
        let body = String::from_utf8(r.body).unwrap();
        assert!(!body.contains("<script>") && !body.contains("<img"));
        assert!(body.contains("&lt;b&gt;") && body.contains("Sign in with &lt;img"));
    }

    #[test]
    fn authorization_details_are_escaped_and_disclosed_without_script() {
        let d = [DetailView { title: "<b>Pay</b>", summary: "to: <img src=x>", json: "{\"a\": \"</pre><script>\"}" }];
        let body = String::from_utf8(consent(Locale::En, "/c", "x", &AppView { name: "rp", ..AppView::default() }, &[], &d).body).unwrap();
        assert!(!body.contains("<script>") && !body.contains("<img") && !body.contains("<b>Pay"));
        assert!(body.contains("<details><summary>All details</summary><pre>{&quot;a&quot;: &quot;&lt;/pre&gt;&lt;script&gt;&quot;}</pre></details>"), "{body}");
    }

    #[test]
    fn code_and_step_up_pages_escape_and_offer_only_what_is_given() {
        let body = String::from_utf8(code(Locale::En, "/c\"><x", "i\"><y", true, Some("<b>"), None).body).unwrap();
        assert!(!body.contains("<x") && !body.contains("<y") && !body.contains("<b>") && !body.contains("email-code-form"));
        assert!(body.contains("name=\"code\"") && body.contains("We sent a 6-digit code"));
        let body = String::from_utf8(step_up(Locale::PtBr, "NIST-AAL-2", "i", Some("/v"), None, None).body).unwrap();
        assert!(body.contains("id=\"totp-form\"") && !body.contains("email-code-form") && !body.contains("data-passkey"));
        let f = PasskeyForm { options: "/o", action: "/a" };
        let body = String::from_utf8(step_up(Locale::En, "NIST-AAL-3", "i", None, Some("/e"), Some((&f, "l", "<ann>"))).body).unwrap();
        assert!(body.contains("id=\"email-code-form\"") && body.contains("data-passkey=\"sign-in\"") && body.contains("&lt;ann&gt;") && !body.contains("totp-form"));
    }

    #[test]
    fn the_application_is_named_from_its_metadata_and_escaped() {
        let app = AppView { name: "<b>Budget</b>", logo_uri: Some("https://rp.example/logo.png?a=\"x"), client_uri: Some("https://rp.example/"), policy_uri: Some("https://rp.example/privacy"), tos_uri: None };
        let r = login(Locale::En, Some(&app), "/l", "x", None, None, &[], "/s", true, None, None, &SelfServiceLinks::default());
        let body = String::from_utf8(r.body.clone()).unwrap();
        assert!(body.contains("to continue to <strong class=\"app-name\"><a href=\"https://rp.example/\">&lt;b&gt;Budget&lt;/b&gt;</a></strong>"), "{body}");
        assert!(body.contains("src=\"https://rp.example/logo.png?a=&quot;x\"") && body.contains("Privacy policy of &lt;b&gt;Budget") && !body.contains("Terms of service of"));
        assert!(r.header("content-security-policy").unwrap().contains("img-src https://rp.example;"));
        let body = String::from_utf8(consent(Locale::PtBr, "/c", "x", &app, &[], &[]).body).unwrap();
        assert!(body.contains("&lt;b&gt;Budget&lt;/b&gt;</a></strong> quer acessar") && body.contains("Política de privacidade de &lt;b&gt;Budget"), "{body}");
    }

    #[test]
    fn csp_sources_are_added_once_to_their_directive() {
        let r = allow_source(allow_source(Response::html(200, String::new()), "img-src", "https://a.example"), "img-src", "https://a.example");
        assert_eq!(r.header("content-security-policy"), Some("default-src 'none'; img-src https://a.example; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'"));
        let r = with_script(Response::html(200, "<head></head>".into()), "https://as.example/t/w/passkeys.js");
        assert_eq!(r.header("content-security-policy"), Some("default-src 'none'; connect-src 'self'; script-src https://as.example/t/w/passkeys.js; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'"));
    }

    #[test]
    fn the_account_page_escapes_names_and_ties_a_password_error_to_its_field() {
        let consents = [AccountConsent { client_id: "c\"><x", name: "<script>", scopes: vec![("profile".into(), "Your <b>name</b>".into()), ("x<y".into(), String::new())], granted_at: 86400 }];
        let view = AccountView {
            passkeys: None,
            totp: None,
            name: "<img src=x>",
            username: "a&b",
            consents: &consents,
            withdraw_action: "/w",
            logout_action: "/l",
            password: Some(PasswordChange { action: "/p", min_length: 10, error: Some((PasswordField::Confirm, "<no>".into())) }),
            sign_out_everywhere_action: "/e",
            notice: Some("<done>"),
            interaction: "i",
        };
        let body = String::from_utf8(account(Locale::En, Some(view)).body).unwrap();
        assert!(!body.contains("<script>") && !body.contains("<img") && !body.contains("<b>") && !body.contains("<x") && !body.contains("<no>") && !body.contains("<done>"), "{body}");
        assert!(body.contains("<h1>&lt;img src=x&gt;</h1>") && body.contains("<strong>a&amp;b</strong>") && body.contains("allowed on 1970-01-02"), "{body}");
        assert!(body.contains("<li>Your &lt;b&gt;name&lt;/b&gt; <span class=\"scope\">(profile)</span></li><li><span class=\"scope\">x&lt;y</span></li>"), "{body}");
        // Only the confirmation field is invalid, described by its error; no value attribute on any password field.
        assert!(body.contains("id=\"confirm-password\" name=\"confirm_password\" autocomplete=\"new-password\" required aria-invalid=\"true\" aria-describedby=\"confirm-password-error\" autofocus><p class=\"error-text\" id=\"confirm-password-error\">&lt;no&gt;</p>"), "{body}");
        assert_eq!(body.matches("aria-invalid").count(), 1);
        assert!(!body.contains("type=\"password\" value") && body.matches("name=\"interaction\" value=\"i\"").count() == 3);
    }

    #[test]
    fn self_service_pages_escape_keep_the_address_and_tie_the_error_to_its_field() {
        let links = SelfServiceLinks { sign_up: Some("/s\"><x"), forgot_password: None };
        let body = String::from_utf8(login(Locale::En, None, "/l", "i", None, None, &[], "/p", true, None, None, &links).body).unwrap();
        assert!(body.contains("id=\"sign-up-form\"") && body.contains("Create an account") && !body.contains("forgot-password-form") && !body.contains("<x"));
        let e = FieldError { field: "password", message: "<b>short</b>" };
        let body = String::from_utf8(sign_up(Locale::En, "/signup", "i\"", "a\"@b.co", 12, Some(&e)).body).unwrap();
        assert!(!body.contains("<b>") && body.contains("&lt;b&gt;short") && body.contains("value=\"a&quot;@b.co\"") && body.contains("minlength=\"12\""));
        assert!(body.contains("id=\"password\" name=\"password\" autocomplete=\"new-password\" minlength=\"12\" required aria-invalid=\"true\" aria-describedby=\"form-error password-rule\""), "{body}");
        assert!(!body.contains("id=\"email\" name=\"email\" autocomplete=\"email\" maxlength=\"254\" required value=\"a&quot;@b.co\" aria-invalid"));
        let body = String::from_utf8(sign_up(Locale::PtBr, "/signup", "i", "", 10, None).body).unwrap();
        assert!(body.contains("Criar uma conta") && body.contains("Pelo menos 10 caracteres") && !body.contains("aria-invalid"));
        let e = FieldError { field: "username", message: "m" };
        let body = String::from_utf8(forgot_password(Locale::En, "/f", "i", "<ann>", Some(&e)).body).unwrap();
        assert!(body.contains("value=\"&lt;ann&gt;\" aria-invalid=\"true\"") && !body.contains("<ann>"));
        let e = FieldError { field: "code", message: "wrong" };
        let body = String::from_utf8(reset_password(Locale::En, "/r", "i", 10, Some(&e)).body).unwrap();
        assert!(body.contains("name=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\" pattern=\"[0-9 ]*\" maxlength=\"8\" required aria-invalid=\"true\""));
        assert!(body.contains("If an account exists for that name"));
    }

    #[test]
    fn the_password_form_is_left_out_when_the_workspace_has_none() {
        let corp = [ProviderChoice { id: "corp", name: "Corp" }];
        let body = String::from_utf8(login(Locale::En, None, "/l", "x", None, None, &corp, "/s", false, None, None, &SelfServiceLinks::default()).body).unwrap();
        assert!(body.contains("value=\"corp\"") && !body.contains("type=\"password\""));
        let body = String::from_utf8(login(Locale::PtBr, None, "/l", "x", None, None, &[], "/s", true, None, None, &SelfServiceLinks::default()).body).unwrap();
        assert!(!body.contains("name=\"idp\"") && body.contains("type=\"password\""));
    }
}
